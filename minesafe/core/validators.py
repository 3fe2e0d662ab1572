"""Check-digit validators for Chinese national identifiers, and the password-complexity rule.

Each validator returns a reason (translated text) or raises django ValidationError through the
`validate_*` wrappers, so forms, serializers and the Excel import share one implementation.
"""

import datetime as dt
import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# GB 11643-1999 resident identity number -------------------------------------------------------
RESIDENT_ID_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]  # 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2
RESIDENT_ID_CHECK = "10X98765432"
_RESIDENT_ID_RE = re.compile(r"^[0-9]{17}[0-9X]$")  # ASCII only: full-width digits are not an ID


def resident_id_check_char(first17: str) -> str:
    total = sum(int(d) * w for d, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def resident_id_error(value: str, today: dt.date | None = None) -> str | None:
    """The reason `value` is not a valid 18-character resident ID, or None when it is."""
    value = (value or "").strip().upper()
    if len(value) != 18:
        return _("must be 18 characters, got %(n)d") % {"n": len(value)}
    if not _RESIDENT_ID_RE.match(value):
        return _("only digits, with X allowed as the last character")
    try:
        birth = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return _("birth date %(d)s is not a real date") % {"d": value[6:14]}
    today = today or dt.date.today()
    if birth > today or birth.year < 1900:
        return _("birth date %(d)s is out of range") % {"d": birth.isoformat()}
    expected = resident_id_check_char(value[:17])
    if value[17] != expected:
        return _("check character should be %(c)s") % {"c": expected}
    return None


def validate_resident_id(value: str) -> None:
    if reason := resident_id_error(value):
        raise ValidationError(_("Invalid resident ID number: %(r)s") % {"r": reason}, code="resident_id")


# GB 32100-2015 unified social credit code --------------------------------------------------------
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters, no I O S V Z
CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]  # 1 3 9 27 19 26 16 17 20 29 25 13 8 24 10 30 28
_CREDIT_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")
# GB 11714 organisation code embedded at positions 9-17.
ORG_CODE_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def credit_code_check_char(first17: str) -> str:
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return CREDIT_ALPHABET[(31 - total % 31) % 31]


def org_code_check_char(first8: str) -> str:
    def value(c: str) -> int:
        return int(c) if c.isdigit() else ord(c) - ord("A") + 10

    c = 11 - sum(value(ch) * w for ch, w in zip(first8, ORG_CODE_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def credit_code_error(value: str) -> str | None:
    """The reason `value` is not a valid unified social credit code, or None when it is."""
    value = (value or "").strip().upper()
    if len(value) != 18:
        return _("must be 18 characters, got %(n)d") % {"n": len(value)}
    if not _CREDIT_RE.match(value):
        return _("contains a character outside 0-9 and A-Y without I, O, S, V, Z")
    if not value[2:8].isdigit():
        return _("characters 3-8 must be a division code")
    expected = credit_code_check_char(value[:17])
    if value[17] != expected:
        return _("check character should be %(c)s") % {"c": expected}
    return None


def validate_credit_code(value: str) -> None:
    if reason := credit_code_error(value):
        raise ValidationError(_("Invalid unified social credit code: %(r)s") % {"r": reason}, code="credit_code")


# Passwords ---------------------------------------------------------------------------------------
class PasswordComplexityValidator:
    """At least three of four classes: upper case, lower case, digits, symbols (等保 2.0 baseline)."""

    def validate(self, password: str, user=None) -> None:
        classes = [
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
        if sum(classes) < 3:
            raise ValidationError(self.get_help_text(), code="password_too_simple")

    def get_help_text(self) -> str:
        return _("The password must mix at least three of: upper-case letters, lower-case letters, digits, symbols.")
