"""Run the fake OpenAI server: `python -m pytest_listingeval.fake_openai --port 8765`."""

from pytest_listingeval.fake_openai.cli import main

raise SystemExit(main())
