"""What every part of the operations app shares: its catalogue and who may act."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from minesafe.core.models import User
from minesafe.core.rows import copy_back, locked_row  # noqa: F401  (re-exported for the app's services)
from minesafe.core.scoping import is_city
from minesafe.core.services import active_catalogue
from minesafe.registry.models import Mine
from minesafe.registry.services import can_manage_mine, is_mine_owner

R = User.Role


def catalogue() -> dict:
    return active_catalogue("operations")


def label(item: dict) -> str:
    """A catalogue entry's name in the active language."""
    return item["zh"] if (get_language() or "zh-hans").startswith("zh") or "en" not in item else item["en"]


def is_regulator(user: User, mine: Mine) -> bool:
    """The city anywhere, the county over its own mines."""
    return can_manage_mine(user, mine)


def require_regulator(user: User, mine: Mine) -> None:
    if not is_regulator(user, mine):
        raise PermissionDenied(_("only the mine's county or the city may do this"))


def require_owner(user: User, mine: Mine) -> None:
    if not is_mine_owner(user, mine):
        raise PermissionDenied(_("only the mine's enterprise may do this"))


def require_department(user: User, unit_code: str) -> None:
    """A city department acting on its own data (the power company GD, the police GA), or the city."""
    if is_city(user):
        return
    if not (user.role == R.DEPARTMENT and user.organisation_id and user.organisation.unit_code == unit_code):
        raise PermissionDenied(_("only the responsible department may record this"))

