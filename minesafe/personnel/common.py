"""What the personnel app's parts share: the catalogue, permissions and the masking of personal information."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core import audit
from minesafe.core.models import User
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

from .models import EDUCATION_ORDER

R = User.Role


def catalogue() -> dict:
    return active_catalogue("personnel")


def label(item: dict) -> str:
    return item["zh"] if (get_language() or "zh-hans").startswith("zh") or "en" not in item else item["en"]


def posts() -> dict[str, dict]:
    return {p["code"]: p for p in catalogue()["posts"]}


def five_post_codes() -> list[str]:
    return [p["code"] for p in catalogue()["posts"] if p.get("five")]


def operation_categories() -> dict[str, dict]:
    ops = catalogue()["special_operations"]
    return {c["code"]: c for c in ops["mine_specific"] + ops["general_used_at_mines"]}


def education_at_least(education: str, minimum: str) -> bool:
    return EDUCATION_ORDER.index(education) >= EDUCATION_ORDER.index(minimum)


def may_write(user: User, mine: Mine) -> bool:
    """The ledger is kept by the mine's enterprise; its county and the city may correct it."""
    return is_mine_owner(user, mine) or can_manage_mine(user, mine)


def require_write(user: User, mine: Mine) -> None:
    if not may_write(user, mine):
        raise PermissionDenied(_("you may not change this mine's people records"))


def require_regulator(user: User, mine: Mine) -> None:
    if not can_manage_mine(user, mine):
        raise PermissionDenied(_("only the mine's county or the city may do this"))


def may_see_personal(user: User, mine: Mine) -> bool:
    """ID and phone numbers in full: the mine's own enterprise, its county and the city. Departments and
    inspectors see them masked."""
    return bool(user and user.is_authenticated) and (is_city(user) or can_manage_mine(user, mine)
                                                    or is_mine_owner(user, mine))


def mask_id(number: str) -> str:
    """110101********123X -> the region code and the last four characters only."""
    return f"{number[:6]}{'*' * (len(number) - 10)}{number[-4:]}" if len(number) > 10 else "*" * len(number)


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 7 else "*" * len(digits)


def snapshot(obj, fields=None) -> dict:
    """An audit snapshot with personal numbers masked: the audit log never holds them in clear."""
    data = audit.snapshot(obj, fields)
    if "id_number" in data and data["id_number"]:
        data["id_number"] = mask_id(data["id_number"])
    if "phone" in data and data["phone"]:
        data["phone"] = mask_phone(data["phone"])
    return data
