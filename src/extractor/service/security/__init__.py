"""Admin access: bearer token and session cookie sign-in, signed sessions, and the CSRF guard."""
