"""Photos and PDFs uploaded as evidence: recognised by their content (never by the name they came with), counted
and sized before anything is stored."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

PHOTO_OR_PDF = [
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"%PDF-", "application/pdf", ".pdf"),
]


def sniff(content: bytes, types=PHOTO_OR_PDF) -> tuple[str, str] | None:
    """(content type, suffix) of the first signature the content starts with, None for anything else."""
    for magic, content_type, suffix in types:
        if content.startswith(magic):
            return content_type, suffix
    return None


def check_photos_or_pdfs(files, *, field: str, max_count: int, max_bytes: int) -> list[tuple[str, bytes, str, str]]:
    """Each (name, content) checked: how many, empty, too large, not a photo or PDF by its content; the first
    problem is raised for `field`. Returns (safe name, content, content type, suffix) for each file."""
    files = list(files or [])
    if len(files) > max_count:
        raise ValidationError({field: _("at most %(n)d files") % {"n": max_count}})
    checked = []
    for name, content in files:
        shown = Path(name or "").name[-120:] or "?"
        if not content:
            raise ValidationError({field: _("%(f)s is empty") % {"f": shown}})
        if len(content) > max_bytes:
            raise ValidationError({field: _("%(f)s is larger than %(n)d MB") % {"f": shown, "n": max_bytes // 2**20}})
        kind = sniff(content)
        if kind is None:
            raise ValidationError({field: _("%(f)s is not a photo (JPEG, PNG) or a PDF") % {"f": shown}})
        checked.append((shown, content, *kind))
    return checked
