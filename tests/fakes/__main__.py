"""The packaged fake OpenAI server answering this project's guitar listing by default.

python -m tests.fakes --port 8765 [--latency-ms 300] [--answers answers.json]
"""

from pytest_listingeval.fake_openai.cli import main
from tests.fakes.listing import DEFAULT_LISTING

raise SystemExit(main(default_answer=DEFAULT_LISTING, prog="python -m tests.fakes"))
