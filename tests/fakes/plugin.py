"""Fixtures for the local fake OpenAI-compatible server (filled in with the server)."""
