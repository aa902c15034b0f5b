"""Repository-wide pytest setup: pytester for plugin tests, the fake OpenAI server fixtures."""

pytest_plugins = ["pytester", "tests.fakes.plugin"]
