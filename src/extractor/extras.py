"""The optional extras of the `listingeval` distribution a command needs, and what of them is missing."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

# The distributions of each extra as pyproject.toml lists them (a test keeps the two in step).
_OPENAI = ("openai", "httpx2", "tenacity", "pillow")
EXTRAS: dict[str, tuple[str, ...]] = {
    "openai": _OPENAI,
    "service": (
        *_OPENAI,
        "fastapi",
        "starlette",
        "uvicorn",
        "python-multipart",
        "sqlalchemy",
        "alembic",
        "prometheus-client",
        "psycopg",
        "imagehash",
    ),
}


def install_command(extra: str) -> str:
    """The pip command that installs an extra."""
    return f"pip install 'listingeval[{extra}]'"


def missing_distributions(extra: str) -> list[str]:
    """The distributions of `extra` that are not installed, in pyproject order."""
    missing = []
    for name in EXTRAS[extra]:
        try:
            distribution(name)
        except PackageNotFoundError:
            missing.append(name)
    return missing


def missing_extra_message(what: str, extra: str) -> str | None:
    """One line saying which extra to install for `what`, or None when all of it is installed."""
    missing = missing_distributions(extra)
    if not missing:
        return None
    return f"{what} needs the {extra} extra: {install_command(extra)} (not installed: {', '.join(missing)})"
