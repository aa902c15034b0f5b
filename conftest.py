"""Repository-wide pytest setup: pytester for plugin tests, the project's default fake answer."""

# pytester's in-process runs drop modules first imported inside them. httpx builds its map of
# httpcore exceptions once, lazily; if that first happens inside an in-process run, later
# connection errors escape as unmapped httpcore errors. Importing httpcore here keeps the
# classes in that map alive for the whole session.
import httpcore  # noqa: F401
import pytest

from pytest_listingeval.fake_openai import FakeOpenAI
from tests.fakes.listing import DEFAULT_LISTING

pytest_plugins = ["pytester"]


@pytest.fixture
def fake_openai(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The plugin's fake server (also behind `fake_openai_env`), answering the guitar listing by default."""
    fake_openai.answer_with(DEFAULT_LISTING)
    return fake_openai
