"""`listingeval extract`: bad images exit 2 with one clear line, odd-but-valid images go through."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from extractor.cli import main
from pytest_listingeval.fake_openai import FakeOpenAI, faults
from tests.fakes.listing import DEFAULT_LISTING
from tests.pixels import rgb_at
from tests.unit import photos

pytestmark = pytest.mark.unit

MAX_SIDE = 512
MAX_BYTES = 300_000
PYPROJECT = f"""
[tool.listingeval]
max_side = {MAX_SIDE}
max_bytes = {MAX_BYTES}
timeout_s = 5.0
attempts = 2
backoff_initial_s = 0.01
backoff_max_s = 0.05
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_openai_env: FakeOpenAI) -> Path:
    """A working directory whose pyproject.toml sets small limits and fast retries."""
    (tmp_path / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["extract", *args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_clear_error(err: str) -> None:
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3, err
    assert lines[0].startswith("listingeval: "), err
    assert "Traceback" not in err


BAD: dict[str, tuple[Callable[[Path], Path], str]] = {
    "empty": (photos.empty, "empty"),
    "text_renamed": (photos.text_as_jpeg, "not an image"),
    "truncated_jpeg": (photos.truncated_jpeg, "truncated"),
    "one_pixel": (lambda p: photos.solid(p, (1, 1)), "1x1 px"),
    "huge_12000": (photos.huge_png, "pixel"),
    "over_byte_limit": (lambda p: photos.oversized(p, MAX_BYTES + 1), f"{MAX_BYTES}-byte limit"),
}
SUFFIX = {"huge_12000": ".png", "one_pixel": ".png", "over_byte_limit": ".png"}


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_image_exits_2(
    kind: str, project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    make, needle = BAD[kind]
    path = make(project / f"{kind}{SUFFIX.get(kind, '.jpg')}")
    code, out, err = run_cli(capsys, str(path))
    assert code == 2
    assert out == ""
    assert_one_clear_error(err)
    assert "invalid_image" in err and needle in err
    assert fake_openai_env.requests == []


def test_missing_file_exits_2(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, str(project / "nope.jpg"))
    assert (code, out) == (2, "")
    assert_one_clear_error(err)
    assert "does not exist" in err


def test_bad_image_in_a_subprocess_has_no_traceback(project: Path) -> None:
    path = photos.truncated_jpeg(project / "broken.jpg")
    done = subprocess.run(
        [sys.executable, "-m", "extractor.cli", "extract", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert_one_clear_error(done.stderr)


def sent_image(fake: FakeOpenAI) -> Image.Image:
    (request,) = fake.requests
    (data,) = request.images
    image = photos.decode(data)
    assert (image.format, image.mode) == ("JPEG", "RGB")
    return image


def accepted(capsys: pytest.CaptureFixture[str], fake: FakeOpenAI, path: Path) -> Image.Image:
    code, out, err = run_cli(capsys, str(path))
    assert code == 0, err
    assert json.loads(out) == DEFAULT_LISTING
    return sent_image(fake)


def test_cmyk_jpeg_accepted(project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    image = accepted(capsys, fake_openai_env, photos.cmyk_jpeg(project / "cmyk.jpg"))
    assert image.size == (64, 48)


def test_16bit_png_accepted(project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    image = accepted(capsys, fake_openai_env, photos.png_16bit(project / "deep.png"))
    assert image.size == (64, 48)
    left, right = image.getpixel((1, 10)), image.getpixel((62, 10))
    assert isinstance(left, tuple) and isinstance(right, tuple)
    assert left != right  # the gradient survived the conversion (not flattened to one value)


def test_animated_gif_first_frame(
    project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    image = accepted(capsys, fake_openai_env, photos.animated_gif(project / "anim.gif"))
    r, g, b = rgb_at(image, (32, 24))
    assert r > 200 and g < 50 and b < 50  # red, the first frame; the second is blue


def test_exif_orientation_applied(
    project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    path = photos.exif_rotated_jpeg(project / "rotated.jpg", (120, 60))
    with Image.open(path) as original:
        assert original.size == (120, 60)
    image = accepted(capsys, fake_openai_env, path)
    assert image.size == (60, 120)


def test_rgba_flattened_onto_white(
    project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    image = accepted(capsys, fake_openai_env, photos.transparent_png(project / "clear.png"))
    assert all(channel >= 250 for channel in rgb_at(image, (32, 24)))


def test_long_side_downscaled(project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    image = accepted(capsys, fake_openai_env, photos.solid(project / "wide.png", (1500, 700)))
    assert image.width == MAX_SIDE
    assert abs(image.height - 700 * MAX_SIDE / 1500) <= 1


def test_small_image_not_upscaled(
    project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    image = accepted(capsys, fake_openai_env, photos.solid(project / "small.webp", (40, 30)))
    assert image.size == (40, 30)


@pytest.mark.parametrize(
    ("fault", "needles"),
    [
        (faults.bad_request("model_not_found"), ["api_error", "400", "model_not_found"]),
        (faults.refusal(), ["refusal"]),
        (faults.incomplete(), ["incomplete", "max_output_tokens"]),
        (faults.schema_invalid(), ["invalid_output"]),
    ],
    ids=["400", "refusal", "incomplete", "schema_invalid"],
)
def test_failures_exit_1_naming_the_type(
    fault: faults.Fault,
    needles: list[str],
    project: Path,
    fake_openai_env: FakeOpenAI,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake_openai_env.enqueue(fault)
    code, out, err = run_cli(capsys, str(photos.solid(project / "ok.png")))
    assert (code, out) == (1, "")
    assert_one_clear_error(err)
    for needle in needles:
        assert needle in err
    assert len(fake_openai_env.requests) == 1


def test_model_option_reaches_the_api(
    project: Path, fake_openai_env: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, str(photos.solid(project / "ok.png")), "--model", "gpt-4.1-nano")
    assert code == 0, err
    (request,) = fake_openai_env.requests
    assert request.body is not None and request.body["model"] == "gpt-4.1-nano"


def test_missing_api_key_exits_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    code, out, err = run_cli(capsys, str(photos.solid(project / "ok.png")))
    assert (code, out) == (2, "")
    assert_one_clear_error(err)
    assert "OPENAI_API_KEY" in err
