"""A local fake of the OpenAI API (Responses and Chat Completions) for tests; standard library only.

    from pytest_listingeval.fake_openai import FakeOpenAI, faults

    with FakeOpenAI(default_answer={"name": "Ada"}) as fake:
        fake.enqueue(faults.rate_limited(retry_after_s=1))
        ...  # point OPENAI_BASE_URL at fake.base_url

The pytest fixtures `fake_openai` and `fake_openai_env` come with the installed plugin.
"""

from pytest_listingeval.fake_openai import faults
from pytest_listingeval.fake_openai.answers import Answer, AnswerFn
from pytest_listingeval.fake_openai.faults import Fault
from pytest_listingeval.fake_openai.recorded import RecordedRequest
from pytest_listingeval.fake_openai.server import FakeOpenAI, unreachable_base_url

__all__ = ["Answer", "AnswerFn", "FakeOpenAI", "Fault", "RecordedRequest", "faults", "unreachable_base_url"]
