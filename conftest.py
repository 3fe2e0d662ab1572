"""Shared fixtures: the reference data and the fixed personas every permission test uses."""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser

from minesafe.core.models import Organisation, Region, User
from minesafe.core.services import bootstrap_reference_data
from minesafe.registry import services as registry
from minesafe.registry.models import Enterprise, Mine, MineAssignment

PASSWORD = "Test@pass2026"
COUNTY_A = "130827"  # 宽城
COUNTY_B = "130822"  # 兴隆


@dataclass
class Personas:
    city: User
    county_a: User
    county_b: User
    ent_a: User
    ent_b: User
    department: User
    inspector: User
    anonymous: AnonymousUser
    county_a_region: Region
    county_b_region: Region
    enterprise_a: Enterprise
    enterprise_b: Enterprise
    mine_a: Mine  # county A, enterprise A
    mine_a2: Mine  # county A, another enterprise (not ent_a's)
    mine_b: Mine  # county B, enterprise B
    pond_a: Mine  # county A tailings pond of enterprise A


def make_user(username: str, role: str, organisation: Organisation | None, **extra) -> User:
    return User.objects.create_user(username=username, password=PASSWORD, role=role, organisation=organisation,
                                    display_name=username, **extra)


def credit_code(prefix17: str) -> str:
    from minesafe.core.validators import credit_code_check_char

    return prefix17 + credit_code_check_char(prefix17)


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Password hashing is deliberately slow; tests check logic, not the hash cost."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def empty_cache():
    """The process-local cache (the dashboard keeps KPIs and risk scores in it) starts empty in every test."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Regions, organisations and catalogues once per test database; each test rolls back to them."""
    with django_db_blocker.unblock():
        bootstrap_reference_data()


@pytest.fixture
def reference(db):
    """The reference data: loaded by django_db_setup, again after a transactional test flushed it."""
    if not Region.objects.exists():
        bootstrap_reference_data()


@pytest.fixture
def personas(reference) -> Personas:
    county_a = Region.objects.get(code=COUNTY_A)
    county_b = Region.objects.get(code=COUNTY_B)
    city = make_user("city", User.Role.CITY, Organisation.objects.get(kind=Organisation.Kind.CITY_BUREAU))
    county_a_user = make_user("county_a", User.Role.COUNTY, Organisation.objects.get(kind="county", region=county_a))
    county_b_user = make_user("county_b", User.Role.COUNTY, Organisation.objects.get(kind="county", region=county_b))
    department = make_user("department", User.Role.DEPARTMENT, Organisation.objects.get(unit_code="ZRZY"))
    enterprise_a, _ = registry.get_or_create_enterprise(city, "宽城测试矿业有限公司", credit_code("91130827MA000000A"),
                                                        county_a)
    enterprise_a2, _ = registry.get_or_create_enterprise(city, "宽城另一矿业有限公司", credit_code("91130827MA000000B"),
                                                         county_a)
    enterprise_b, _ = registry.get_or_create_enterprise(city, "兴隆测试矿业有限公司", credit_code("91130822MA000000C"),
                                                        county_b)
    ent_a = make_user("ent_a", User.Role.ENTERPRISE, enterprise_a.organisation)
    ent_b = make_user("ent_b", User.Role.ENTERPRISE, enterprise_b.organisation)
    inspector = make_user("inspector", User.Role.INSPECTOR,
                          Organisation.objects.create(kind="inspection_body", name="测试专家组",
                                                      region=Region.objects.get(kind="city")))
    since = dt.date(2024, 1, 1)
    mine_a = registry.create_mine(city, code="KC-001", name="宽城甲铁矿", enterprise=enterprise_a, county=county_a,
                                  mine_type=Mine.Type.UNDERGROUND, mineral="铁矿", design_capacity=40,
                                  status_since=since)
    mine_a2 = registry.create_mine(city, code="KC-002", name="宽城乙金矿", enterprise=enterprise_a2, county=county_a,
                                   mine_type=Mine.Type.UNDERGROUND, mineral="岩金", design_capacity=5,
                                   status_since=since)
    mine_b = registry.create_mine(city, code="XL-001", name="兴隆丙石灰岩矿", enterprise=enterprise_b,
                                  county=county_b, mine_type=Mine.Type.OPEN_PIT, mineral="石灰岩",
                                  design_capacity=120, status_since=since)
    pond_a = registry.create_mine(city, code="KC-T01", name="宽城甲尾矿库", enterprise=enterprise_a,
                                  county=county_a, mine_type=Mine.Type.TAILINGS_POND, design_pond_capacity=500,
                                  design_dam_height=45, status_since=since)
    MineAssignment.objects.create(user=inspector, mine=mine_a2)
    return Personas(city=city, county_a=county_a_user, county_b=county_b_user, ent_a=ent_a, ent_b=ent_b,
                    department=department, inspector=inspector, anonymous=AnonymousUser(),
                    county_a_region=county_a, county_b_region=county_b, enterprise_a=enterprise_a,
                    enterprise_b=enterprise_b, mine_a=mine_a, mine_a2=mine_a2, mine_b=mine_b, pond_a=pond_a)
