"""Stored photos carry no EXIF, XMP, ICC, comments or text chunks, and still look the same."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from PIL import ExifTags, Image, ImageChops, ImageOps, ImageStat, PngImagePlugin

from extractor.images import prepare_image
from extractor.service.api.uploads import strip_metadata
from extractor.service.storage.db import make_engine, upgrade
from extractor.service.storage.records import utcnow
from extractor.service.storage.store import Store
from extractor.service.storage.tables import extractions, images
from pytest_listingeval.fake_openai import FakeOpenAI
from tests.service.conftest import postgres_engine

pytestmark = pytest.mark.service

XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>Jane Seller</dc:creator></x:xmpmeta>'
ICC = b"\x00\x00\x02\x0cFAKE-ICC with a profile description: Jane's calibrated monitor" * 4


def _exif(orientation: int | None = None) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Acme"
    exif[ExifTags.Base.BodySerialNumber] = "SN-0042"
    exif[ExifTags.Base.Artist] = "Jane Seller"
    exif[ExifTags.Base.DateTime] = "2026:05:01 10:00:00"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    # Assigned whole: Pillow 10.3, our lowest, does not keep entries added to a new get_ifd() dict.
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (2.0, 21.0, 7.0),
    }
    return exif


def _picture(size: tuple[int, int] = (96, 64)) -> Image.Image:
    """Red on the left, blue on the right, a green top band: any rotation or flip shows."""
    image = Image.new("RGB", size, (220, 20, 20))
    image.paste((20, 20, 220), (size[0] // 2, 0, size[0], size[1]))
    image.paste((20, 200, 20), (0, 0, size[0], size[1] // 4))
    return image


def jpeg_with_gps(orientation: int | None = None, progressive: bool = False) -> bytes:
    """A JPEG with EXIF GPS, serial, owner and date, XMP, an ICC profile and a comment."""
    out = io.BytesIO()
    _picture().save(
        out,
        format="JPEG",
        quality=90,
        exif=_exif(orientation).tobytes(),
        xmp=XMP,
        icc_profile=ICC,
        comment=b"shot at 12 Rue Example",
        progressive=progressive,
    )
    return out.getvalue()


def png_with_text() -> bytes:
    """A PNG with tEXt, zTXt and iTXt chunks, eXIf with GPS and an iCCP profile."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane Seller")
    info.add_text("Comment", "home address " * 20, zip=True)
    info.add_itxt("Description", "taken in the kitchen", lang="en")
    info.add_text("XML:com.adobe.xmp", XMP.decode())
    out = io.BytesIO()
    _picture().convert("RGBA").save(out, format="PNG", pnginfo=info, exif=_exif().tobytes(), icc_profile=ICC)
    return out.getvalue()


def webp_with_metadata() -> bytes:
    """A WebP with EXIF, XMP and ICCP chunks."""
    out = io.BytesIO()
    _picture().save(out, format="WEBP", lossless=True, exif=_exif().tobytes(), xmp=XMP, icc_profile=ICC)
    return out.getvalue()


def assert_clean(data: bytes) -> Image.Image:
    """Fail if the encoded image carries any metadata Pillow can see; the decoded image."""
    raw = data.lower()
    for needle in (b"jane", b"acme", b"sn-0042", b"exif", b"xmpmeta", b"fake-icc", b"rue example", b"kitchen"):
        assert needle not in raw, needle
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert not image.getexif(), dict(image.getexif())
        assert ExifTags.IFD.GPSInfo not in image.getexif()
        for key in ("exif", "xmp", "icc_profile", "comment", "XML:com.adobe.xmp", "Author", "Comment"):
            assert key not in image.info, key
        assert not getattr(image, "text", {})
        return image.copy()


def _stored(engine: sa.Engine, extraction_id: str) -> tuple[bytes, str, str]:
    """The stored bytes, content type and key of an extraction's image, read straight from the table."""
    query = (
        sa.select(images.c.data, images.c.content_type, images.c.sha256)
        .join(extractions, extractions.c.image_sha256 == images.c.sha256)
        .where(extractions.c.id == extraction_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).one()
    return bytes(row.data), str(row.content_type), str(row.sha256)


def _upload(client: TestClient, data: bytes, name: str, mime: str) -> str:
    response = client.post("/v1/extractions", files={"image": (name, data, mime)})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def _same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.mode == b.mode and a.size == b.size and ImageChops.difference(a, b).getbbox() is None


def _open(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        return image.copy()


def test_jpeg_gps_is_stripped_without_re_encoding(client: TestClient, store: Store, fake_openai: FakeOpenAI) -> None:
    original = jpeg_with_gps()
    assert ExifTags.IFD.GPSInfo in Image.open(io.BytesIO(original)).getexif()
    data, content_type, key = _stored(store.engine, _upload(client, original, "a.jpg", "image/jpeg"))
    stored = assert_clean(data)
    assert content_type == "image/jpeg" and key == hashlib.sha256(data).hexdigest()
    assert stored.size == (96, 64)
    # The same scan data: decoding gives exactly the original pixels.
    assert _same_pixels(stored, _open(original))
    # What the model saw is what it saw before (the extractor re-encodes either way).
    sent = fake_openai.requests[-1].images[0]
    assert _same_pixels(_open(sent), _open(prepare_image(original).data))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_orientation_is_applied_before_the_tag_goes(client: TestClient, store: Store, orientation: int) -> None:
    original = jpeg_with_gps(orientation)
    upright = ImageOps.exif_transpose(_open(original))
    data, content_type, _ = _stored(store.engine, _upload(client, original, "r.jpg", "image/jpeg"))
    stored = assert_clean(data)
    assert content_type == "image/jpeg"
    assert stored.size == upright.size == ((64, 96) if orientation in (6, 8) else (96, 64))
    # Re-encoded at quality 95: nearly the same pixels, and the same colour in each corner.
    assert max(ImageStat.Stat(ImageChops.difference(stored, upright)).mean) < 3
    width, height = stored.size
    for x, y in ((4, 4), (width - 5, 4), (4, height - 5), (width - 5, height - 5)):
        got, want = stored.getpixel((x, y)), upright.getpixel((x, y))
        assert isinstance(got, tuple) and isinstance(want, tuple)
        assert max(abs(g - w) for g, w in zip(got, want, strict=True)) < 16, (x, y, got, want)


def test_progressive_jpeg_is_stripped(client: TestClient, store: Store) -> None:
    original = jpeg_with_gps(progressive=True)
    data, _, _ = _stored(store.engine, _upload(client, original, "p.jpg", "image/jpeg"))
    assert _same_pixels(assert_clean(data), _open(original))


def test_png_text_chunks_are_dropped_losslessly(client: TestClient, store: Store) -> None:
    original = png_with_text()
    opened = Image.open(io.BytesIO(original))
    assert isinstance(opened, PngImagePlugin.PngImageFile) and opened.text
    data, content_type, _ = _stored(store.engine, _upload(client, original, "a.png", "image/png"))
    stored = assert_clean(data)
    assert content_type == "image/png" and stored.size == (96, 64) and stored.mode == "RGBA"
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"iCCP"):
        assert chunk not in data
    assert _same_pixels(stored, _open(original))


def test_webp_metadata_chunks_are_dropped_losslessly(client: TestClient, store: Store) -> None:
    original = webp_with_metadata()
    data, content_type, _ = _stored(store.engine, _upload(client, original, "a.webp", "image/webp"))
    stored = assert_clean(data)
    assert content_type == "image/webp" and stored.size == (96, 64)
    assert _same_pixels(stored, _open(original))


def test_gif_comment_is_dropped(client: TestClient, store: Store) -> None:
    out = io.BytesIO()
    _picture().convert("P").save(out, format="GIF", comment=b"Jane Seller's garage")
    data, content_type, _ = _stored(store.engine, _upload(client, out.getvalue(), "a.gif", "image/gif"))
    stored = assert_clean(data)
    assert stored.size == (96, 64) and content_type == "image/png"  # saved again, losslessly, as PNG


def test_the_same_photo_with_other_metadata_is_stored_once(client: TestClient, store: Store) -> None:
    first = jpeg_with_gps()
    comment = b"Jane Seller, another day"
    second = first[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment + first[2:]
    one = _stored(store.engine, _upload(client, first, "a.jpg", "image/jpeg"))
    two = _stored(store.engine, _upload(client, second, "b.jpg", "image/jpeg"))
    assert one[2] == two[2]
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(images)).scalar_one() == 1


def test_a_photo_without_metadata_is_stored_byte_for_byte(client: TestClient, store: Store) -> None:
    out = io.BytesIO()
    _picture().save(out, format="PNG")
    data, _, _ = _stored(store.engine, _upload(client, out.getvalue(), "a.png", "image/png"))
    assert data == out.getvalue()


def test_what_pillow_cannot_open_is_left_for_check_image_to_refuse() -> None:
    assert strip_metadata(b"not an image", 1000) == b"not an image"
    truncated = jpeg_with_gps()[:200]
    assert b"Acme" in truncated and strip_metadata(truncated, 10_000) == truncated  # and refused below


def test_a_damaged_jpeg_is_refused_and_nothing_is_stored(client: TestClient, store: Store) -> None:
    response = client.post("/v1/extractions", files={"image": ("t.jpg", jpeg_with_gps()[:300], "image/jpeg")})
    assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_image"
    assert store.count() == 0


# -- photos stored before stripping existed --------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def database_at_0003(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """A new database migrated only up to revision 0003, before stored photos were stripped."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        upgrade(engine, "0003")
        yield engine
        engine.dispose()
        return
    yield from postgres_engine("0003")


def _old_row(conn: sa.Connection, data: bytes, extraction_id: str) -> str:
    """An image and an extraction stored as the service did before it stripped uploads."""
    key = hashlib.sha256(data).hexdigest()
    if conn.execute(sa.select(images.c.sha256).where(images.c.sha256 == key)).first() is None:
        conn.execute(
            sa.insert(images).values(
                sha256=key, data=data, size=len(data), content_type="image/jpeg", created_at=utcnow()
            )
        )
    conn.execute(
        sa.insert(extractions).values(
            id=extraction_id,
            created_at=utcnow(),
            user_id="u",
            variant="default",
            model="m",
            prompt_id="p",
            status="ok",
            image_sha256=key,
        )
    )
    return key


def _picture_bytes() -> bytes:
    out = io.BytesIO()
    _picture().save(out, format="JPEG", quality=90)
    return out.getvalue()


def test_the_upgrade_strips_photos_stored_before_and_keeps_every_extraction_pointing_at_one(
    database_at_0003: sa.Engine,
) -> None:
    engine = database_at_0003
    dirty, rotated, clean = jpeg_with_gps(), jpeg_with_gps(orientation=6), _picture_bytes()
    with engine.begin() as conn:
        dirty_key = _old_row(conn, dirty, "a" * 32)
        _old_row(conn, dirty, "b" * 32)  # the same photo, uploaded twice
        _old_row(conn, rotated, "c" * 32)
        clean_key = _old_row(conn, clean, "d" * 32)
        # The same photo uploaded again after stripping existed: already stored clean.
        _old_row(conn, strip_metadata(dirty, 10**7), "e" * 32)
    upgrade(engine)
    stored = {x: _stored(engine, x * 32) for x in "abcde"}
    for data, content_type, key in stored.values():
        assert_clean(data)
        assert key == hashlib.sha256(data).hexdigest() and content_type == "image/jpeg"
    assert stored["a"][2] == stored["b"][2] == stored["e"][2] != dirty_key
    assert _same_pixels(_open(stored["a"][0]), _open(dirty))
    assert _open(stored["c"][0]).size == _open(dirty).size[::-1]  # turned upright, as an upload is
    assert stored["d"] == (clean, "image/jpeg", clean_key)  # no metadata: left byte for byte
    with engine.connect() as conn:
        kept = {row.sha256 for row in conn.execute(sa.select(images.c.sha256))}
    assert kept == {stored[x][2] for x in "acd"}  # the old rows, metadata and all, are gone
