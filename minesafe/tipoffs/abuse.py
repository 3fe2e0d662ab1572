"""Spam and guessing resistance of the public pages: per-IP rate limits in the Django cache, and the
signed render time of the form (a submission faster than a person can type is refused).

Limits are settings with defaults here (TIPOFF_SUBMIT_LIMIT = (count, seconds) and so on). The client IP is
REMOTE_ADDR: behind a reverse proxy, the proxy must set it (e.g. gunicorn's --forwarded-allow-ips), never a
header a client could forge.
"""

import math
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.utils import timezone

FORM_SALT = "minesafe.tipoffs.form"


def submit_limit() -> tuple[int, int]:
    return tuple(getattr(settings, "TIPOFF_SUBMIT_LIMIT", (5, 3600)))


def track_limit() -> tuple[int, int]:
    """Wrong codes allowed per IP and window (a right code never counts)."""
    return tuple(getattr(settings, "TIPOFF_TRACK_LIMIT", (10, 3600)))


def min_fill_seconds() -> int:
    return int(getattr(settings, "TIPOFF_MIN_FILL_SECONDS", 5))


def max_form_age_seconds() -> int:
    return int(getattr(settings, "TIPOFF_MAX_FORM_AGE_SECONDS", 24 * 3600))


def client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR") or "unknown"


@dataclass(frozen=True)
class Limit:
    allowed: bool
    retry_after: int  # seconds until the window ends (0 if allowed)


def _window(scope: str, ip: str, seconds: int) -> tuple[str, int]:
    now = timezone.now().timestamp()
    bucket = int(now // seconds)
    return f"tipoffs:{scope}:{ip}:{bucket}", max(1, math.ceil((bucket + 1) * seconds - now))


def hit(scope: str, ip: str, limit: tuple[int, int]) -> Limit:
    """Count one attempt in the current fixed window; refused once the count passes the limit."""
    count, seconds = limit
    key, left = _window(scope, ip, seconds)
    cache.add(key, 0, timeout=seconds + 60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=seconds + 60)
        used = 1
    return Limit(True, 0) if used <= count else Limit(False, left)


def exhausted(scope: str, ip: str, limit: tuple[int, int]) -> Limit:
    """Whether the window's count is already at the limit (without counting)."""
    count, seconds = limit
    key, left = _window(scope, ip, seconds)
    return Limit(False, left) if (cache.get(key) or 0) >= count else Limit(True, 0)


def form_token() -> str:
    """The form's render time, signed (so a bot cannot claim it rendered the form long ago)."""
    return signing.dumps(timezone.now().timestamp(), salt=FORM_SALT)


def token_fresh(token: str) -> bool:
    """The form was rendered by us, at least min_fill_seconds and at most max_form_age_seconds ago."""
    try:
        rendered = float(signing.loads(token or "", salt=FORM_SALT))
    except (signing.BadSignature, TypeError, ValueError):
        return False
    elapsed = timezone.now().timestamp() - rendered
    return min_fill_seconds() <= elapsed <= max_form_age_seconds()
