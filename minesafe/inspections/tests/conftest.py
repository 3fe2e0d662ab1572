"""The inspections tests read refusals and pages in English (the UI's default language is Chinese), and share a
few helpers: a real PNG as a phone canvas would post it, a started inspection, signing."""

import base64
import datetime as dt
import struct
import zlib

import pytest
from django.utils import timezone, translation

from minesafe.inspections import services
from minesafe.inspections.models import Inspection, Signature


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    """Uploaded and generated files go to a per-test folder."""
    settings.MEDIA_ROOT = tmp_path / "media"


def png(width: int = 40, height: int = 20, seed: int = 0) -> bytes:
    """A valid greyscale PNG (what canvas.toDataURL produces, in small)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((x * 7 + y * 3 + seed) % 256 for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def data_url(content: bytes | None = None) -> str:
    return "data:image/png;base64," + base64.b64encode(content or png()).decode()


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 200


def start(actor, mine, **kwargs) -> Inspection:
    kwargs.setdefault("inspected_on", timezone.localdate())
    return services.start_inspection(actor, mine, **kwargs)


def sign_both(inspection: Inspection, lead=None, *, refused: bool = False) -> None:
    lead = lead or inspection.lead_inspector
    services.sign(lead, inspection, Signature.Role.LEAD_INSPECTOR, image=data_url())
    if refused:
        services.sign(lead, inspection, Signature.Role.ENTERPRISE, signer_name="王矿长", refused=True,
                      refusal_reason="不认可检查结论", witness_name="李村主任")
    else:
        services.sign(lead, inspection, Signature.Role.ENTERPRISE, signer_name="王矿长", image=data_url(png(seed=3)))


def first_item(inspection: Inspection, *, major: bool):
    items = inspection.items.select_related("inspection").order_by("position")
    return items.filter(hazard_item__isnull=not major).first()


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def yesterday(today):
    return today - dt.timedelta(days=1)
