"""Server-rendered admin pages: per-variant figures, the log browser, one extraction, and the shared page templates."""
