"""The penalties tests read refusals and pages in English (the UI's default language is Chinese), and share a
few cases at fixed past dates: opened 2026-10-01, notified 2026-10-05 (replies until 10-10), decided 10-15,
served 10-16 (fines due 10-31)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import translation

from minesafe.core.models import Organisation
from minesafe.inspections.models import Inspection
from minesafe.penalties import services

D = dt.date
OPENED, NOTIFIED, DECIDED, SERVED = D(2026, 10, 1), D(2026, 10, 5), D(2026, 10, 15), D(2026, 10, 16)
BASIS = ["aqsf-41", "kaq88", "aqsf-21", "aqsf-102", "aqsf-94"]
PERSON = {"person_name": "王建国", "person_role": "矿长", "person_id_number": "11010519491231002X"}


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def inspect(mine, organisation, on: dt.date, user, status=Inspection.Status.COMPLETED) -> Inspection:
    return Inspection.objects.create(mine=mine, organisation=organisation, inspected_on=on, status=status,
                                     lead_inspector=user)


def county_org(personas, which: str = "a") -> Organisation:
    return getattr(personas, f"county_{which}").organisation


@pytest.fixture
def inspection_a(personas):
    return inspect(personas.mine_a, county_org(personas), D(2026, 9, 28), personas.county_a)


def open_case(personas, actor=None, mine=None, **overrides):
    data = {"violation_type": "major_hazard", "facts": "主斜井安全出口被堵塞（UG-05）", "legal_basis": BASIS,
            "opened_on": OPENED}
    data.update(overrides)
    return services.open_case(actor or personas.county_a, mine=mine or personas.mine_a, **data)


def notify(personas, case, actor=None, **overrides):
    data = {"circumstance": "general", "proposed_enterprise_fine": Decimal("25000"),
            "proposed_person_fine": Decimal("28000"), "notified_on": NOTIFIED, **PERSON}
    data.update(overrides)
    return services.notify_party(actor or personas.county_a, case, **data)


def decide(personas, case, actor=None, **overrides):
    data = {"circumstance": "general", "enterprise_fine": Decimal("25000"), "person_fine": Decimal("28000"),
            "decided_on": DECIDED, "served_on": SERVED}
    data.update(overrides)
    return services.decide(actor or personas.county_a, case, **data)


@pytest.fixture
def opened(personas):
    return open_case(personas)


@pytest.fixture
def notified(personas, opened):
    return notify(personas, opened)


@pytest.fixture
def decided(personas, notified):
    return decide(personas, notified)
