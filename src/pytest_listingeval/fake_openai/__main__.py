"""Run the fake OpenAI server: `python -m pytest_listingeval.fake_openai --port 8765`."""

from pytest_listingeval.fake_openai.cli import main

# Only when run: tools that import every module of the package (docs, import checks) must not start a server.
if __name__ == "__main__":
    raise SystemExit(main())
