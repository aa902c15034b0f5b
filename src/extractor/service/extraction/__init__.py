"""One extraction request: variant assignment, the model call under a deadline, metrics, and seller corrections."""
