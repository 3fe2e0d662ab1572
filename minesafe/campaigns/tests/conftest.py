"""The campaigns tests read refusals and pages in English, keep files in a temporary folder, and run on a frozen
clock (2026-09-15 10:00 in Chengde) that a test may move. Builders go through the services, so every row is as
real as in use: four processing plants next to the shared personas' mines, campaigns, visits."""

import datetime as dt
from types import SimpleNamespace

import pytest
from django.utils import timezone, translation

from minesafe.campaigns import services
from minesafe.campaigns.models import Campaign, CampaignSite
from minesafe.inspections import services as inspections
from minesafe.inspections.demo import signature_png
from minesafe.inspections.models import Inspection, InspectionItem, Signature
from minesafe.registry import services as registry
from minesafe.registry.models import Mine, MineAssignment

TODAY = dt.date(2026, 9, 15)
START = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(10)))
RES = InspectionItem.Result


@pytest.fixture(autouse=True)
def english(settings):
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


class Clock:
    def __init__(self):
        self.now = START

    def advance(self, **delta):
        self.now += dt.timedelta(**delta)

    @property
    def today(self) -> dt.date:
        return timezone.localtime(self.now).date()


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """Frozen time that a test moves forward."""
    c = Clock()
    monkeypatch.setattr(timezone, "now", lambda: c.now)
    return c


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


@pytest.fixture
def plants(personas):
    """Processing plants: plant_a (county A, ent_a's enterprise), plant_a2 (county A, another enterprise, assigned
    to the inspector), plant_b (county B, ent_b's), plant_s (county A, ent_a's, suspended)."""
    p = personas

    def plant(code, name, enterprise, county, **extra):
        return registry.create_mine(p.city, code=code, name=name, enterprise=enterprise, county=county,
                                    mine_type=Mine.Type.PROCESSING_PLANT, mineral="铁矿", scale_class="small",
                                    status_since=dt.date(2024, 1, 1), **extra)

    world = SimpleNamespace(
        p=p,
        plant_a=plant("KC-P01", "宽城甲选矿厂", p.enterprise_a, p.county_a_region),
        plant_a2=plant("KC-P02", "宽城乙选矿厂", p.mine_a2.enterprise, p.county_a_region),
        plant_b=plant("XL-P01", "兴隆丙选矿厂", p.enterprise_b, p.county_b_region),
        plant_s=plant("KC-P03", "宽城甲二选矿厂", p.enterprise_a, p.county_a_region, status=Mine.Status.SUSPENDED))
    MineAssignment.objects.create(user=p.inspector, mine=world.plant_a2)
    return world


def new_campaign(actor, code: str = "ZX-2026-01", **extra) -> Campaign:
    extra.setdefault("starts_on", days(-10))
    extra.setdefault("deadline", days(30))
    extra.setdefault("plan_task", 20)
    return services.create_campaign(actor, code=code, title=f"选矿厂专项整治 {code}", **extra)


def site_of(campaign: Campaign, mine: Mine) -> CampaignSite:
    return CampaignSite.objects.select_related("campaign", "mine").get(campaign=campaign, mine=mine)


@pytest.fixture
def running(plants):
    """The city's processing-plant campaign, running, with plant_a, plant_a2 and plant_b as sites."""
    campaign = new_campaign(plants.p.city)
    services.add_sites(plants.p.city, campaign, [plants.plant_a, plants.plant_a2, plants.plant_b])
    services.start_campaign(plants.p.city, campaign)
    plants.campaign = campaign
    return plants


def visit(officer, site: CampaignSite, **extra) -> Inspection:
    extra.setdefault("inspected_on", timezone.localdate())
    return services.visit_site(officer, site, **extra)


def work_through(inspection: Inspection, *, found: int = 0, checked: int | None = None,
                 complete: bool = True) -> Inspection:
    """The first `checked` items (all by default) checked, the first `found` of them "hazard found"; both
    signatures; completion."""
    lead = inspection.lead_inspector
    items = list(inspection.items.select_related("inspection").order_by("position"))
    for n, item in enumerate(items[:checked] if checked is not None else items):
        if n < found:
            inspections.record_result(lead, item, RES.HAZARD_FOUND, note=f"问题 {item.code}",
                                      deadline=inspection.inspected_on + dt.timedelta(days=30))
        else:
            inspections.record_result(lead, item, RES.COMPLIANT)
    if complete:
        inspections.sign(lead, inspection, Signature.Role.LEAD_INSPECTOR, image=signature_png(1))
        inspections.sign(lead, inspection, Signature.Role.ENTERPRISE, signer_name="王厂长", image=signature_png(2))
        inspections.complete(lead, inspection)
    return inspection
