"""Repository-wide pytest setup: pytester for plugin tests, the extractor's hooks, the project's default fake answer."""

# pytester drops the modules first imported during a test that uses it. httpx (and httpx2, the
# SDK's) builds its map of httpcore (httpcore2) exceptions once, lazily; if that first happens
# during such a test, later connection errors escape as unmapped httpcore errors. Importing
# both here keeps the classes in those maps alive for the whole session.
import httpcore  # noqa: F401
import httpcore2  # noqa: F401
import pytest
from hypothesis import settings
from tests.fakes.listing import DEFAULT_LISTING

from pytest_listingeval.fake_openai import FakeOpenAI

# Property tests check behaviour, not speed: a first example that pays for imports or a busy
# machine must not fail them on Hypothesis's default 200 ms deadline.
settings.register_profile("listingeval", deadline=None)
settings.load_profile("listingeval")

# The extractor's hook implementations (its cassette filters) for this project's eval runs.
pytest_plugins = ["pytester", "extractor.pytest_plugin"]


@pytest.fixture
def fake_openai(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The plugin's fake server (also behind `fake_openai_env`), answering the guitar listing by default."""
    fake_openai.answer_with(DEFAULT_LISTING)
    return fake_openai
