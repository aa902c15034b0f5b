"""pytest-listingeval: per-field evaluation of structured LLM output, gated against a git baseline."""
