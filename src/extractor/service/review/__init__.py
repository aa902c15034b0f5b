"""Human review: the annotator page and API, the leased queue, stored reviews and their figures."""
