"""Row-level scoping, deny by default.

Every model holding mine- or county-owned data gets a queryset `visible_to(user)` built from
`scope_q`, which knows the roles; a model only says where its county, enterprise organisation and
mine are (lookup paths). Views, exports and API viewsets all go through `visible_to`.
"""

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from .models import User

NOTHING = Q(pk__in=[])


@dataclass(frozen=True)
class ScopePaths:
    county: str  # lookup to the county Region id, e.g. "county_id" or "mine__county_id"
    organisation: str  # lookup to the owning enterprise's Organisation id
    mine: str  # lookup to the Mine id ("pk" for Mine itself)


def is_city(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role == User.Role.CITY))


def scope_q(user, paths: ScopePaths, *, department_reads: bool = True) -> Q:
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_city(user):
        return Q()
    role = user.role
    if role == User.Role.DEPARTMENT:
        return Q() if department_reads else NOTHING
    if role == User.Role.COUNTY and user.organisation_id:
        return Q(**{paths.county: user.organisation.region_id})
    if role == User.Role.ENTERPRISE and user.organisation_id:
        return Q(**{paths.organisation: user.organisation_id})
    if role == User.Role.INSPECTOR:
        return Q(**{f"{paths.mine}__in": user.mine_assignments.values("mine_id")})
    return NOTHING


class ScopedQuerySet(QuerySet):
    scope_paths: ScopePaths

    def visible_to(self, user) -> "ScopedQuerySet":
        return self.filter(scope_q(user, self.scope_paths))


def scoped_through(path: str) -> type[ScopedQuerySet]:
    """A scoped queryset for records that reach their mine through `path` (e.g. "census__mine")."""
    return type(f"ScopedThrough_{path}", (ScopedQuerySet,), {"scope_paths": ScopePaths(
        county=f"{path}__county_id", organisation=f"{path}__enterprise__organisation_id", mine=f"{path}_id")})
