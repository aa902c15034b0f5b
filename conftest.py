"""Repository-wide pytest setup: pytester for plugin tests, the fake OpenAI server fixtures."""

# pytester's in-process runs drop modules first imported inside them. httpx builds its map of
# httpcore exceptions once, lazily; if that first happens inside an in-process run, later
# connection errors escape as unmapped httpcore errors. Importing httpcore here keeps the
# classes in that map alive for the whole session.
import httpcore  # noqa: F401

pytest_plugins = ["pytester", "tests.fakes.plugin", "extractor.pytest_plugin"]
