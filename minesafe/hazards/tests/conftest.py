"""Fixtures for the hazards tests: hazards at each stage of the closed loop, evidence bytes, change counters."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from minesafe.core.models import AuditEvent, Notification
from minesafe.hazards import services
from minesafe.hazards.models import (
    DeadlineExtension,
    EscalationStep,
    Hazard,
    HazardAttachment,
    HazardItem,
    HazardTransition,
    Investigation,
    SelfCheck,
)

# A minimal PNG: the signature is what the upload check looks at.
PNG = b"\x89PNG\r\n\x1a\n" + b"0" * 100


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploads go to a throw-away folder, never to the project's var/media."""
    root = tmp_path / "media"
    root.mkdir()
    settings.MEDIA_ROOT = root
    return root


@pytest.fixture
def today() -> dt.date:
    return timezone.localdate()


@pytest.fixture
def png() -> bytes:
    return PNG


@pytest.fixture
def item():
    def get(code: str) -> HazardItem:
        return HazardItem.objects.get(catalogue__code="NMM-MAH-2022", code=code)

    return get


@pytest.fixture
def full_plan(today):
    """The five 五落实 fields, with a deadline `days` from today (negative: already past)."""

    def make(days: int = 30, **overrides) -> dict:
        plan = {"responsible_person": "张矿长", "measures": "增设第二安全出口并清理巷道", "funds": Decimal("12.50"),
                "deadline": today + dt.timedelta(days=days), "emergency_plan": "停止该区域作业，设置警戒"}
        plan.update(overrides)
        return plan

    return make


@pytest.fixture
def report(personas, item, today):
    """Report a hazard (by default: county A inspects mine_a and finds UG-01 today)."""

    def make(actor=None, mine=None, code: str = "UG-01", *, source: str = Hazard.Source.COUNTY_INSPECTION,
             found_on: dt.date | None = None, description: str = "主斜坡道安全出口堵塞", **kwargs) -> Hazard:
        return services.report_hazard(actor or personas.county_a, mine or personas.mine_a, item(code), source=source,
                                      found_on=found_on or today, description=description, **kwargs)

    return make


@pytest.fixture
def rectifying(personas, report, full_plan, today):
    """A hazard with a complete plan that the enterprise has started rectifying."""

    def make(days: int = 30, found_on: dt.date | None = None, **kwargs) -> Hazard:
        found_on = found_on or min(today, today + dt.timedelta(days=days))
        hazard = report(found_on=found_on, **full_plan(days), **kwargs)
        return services.transition(personas.ent_a, hazard, Hazard.Status.RECTIFYING, reason="五落实 plan in place")

    return make


@pytest.fixture
def submitted(personas, rectifying, png):
    """A hazard rectified by the enterprise, with evidence, waiting for the county to verify it."""

    def make(**kwargs) -> Hazard:
        hazard = rectifying(**kwargs)
        services.add_attachment(personas.ent_a, hazard, HazardAttachment.Kind.RECTIFICATION, "evidence.png", png)
        return services.transition(personas.ent_a, hazard, Hazard.Status.SUBMITTED, reason="整改完成")

    return make


@pytest.fixture
def closed(personas, submitted, png):
    """A hazard verified and closed (销号) by county A."""

    def make(**kwargs) -> Hazard:
        hazard = submitted(**kwargs)
        services.add_attachment(personas.county_a, hazard, HazardAttachment.Kind.VERIFICATION, "verify.png", png)
        return services.transition(personas.county_a, hazard, Hazard.Status.CLOSED, reason="验收合格，予以销号")

    return make


@pytest.fixture
def counts():
    """How many rows every table a hazard operation writes to holds: compare before and after a refusal."""

    def take() -> dict[str, int]:
        models = [Hazard, HazardTransition, HazardAttachment, DeadlineExtension, EscalationStep, Investigation,
                  SelfCheck, AuditEvent, Notification]
        return {model.__name__: model.objects.count() for model in models}

    return take


@pytest.fixture
def stored_files(media_root):
    def files() -> list:
        return sorted(p for p in media_root.rglob("*") if p.is_file())

    return files
