"""Campaign checklists (专项整治) in the inspections machinery: a checklist of purpose "campaign" is never picked for a
routine inspection; an inspection uses one only by naming it, for a mine a registered campaign check accepts (deny by
default); an explicitly named checklist must be in use and, if routine, of the mine's type; editing a used campaign
checklist makes a new campaign version, and the old one is refused from then on."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from minesafe.core.errors import DomainError
from minesafe.inspections import checklists
from minesafe.inspections.models import ChecklistTemplate
from minesafe.registry import services as registry
from minesafe.registry.models import Mine

from .conftest import start

pytestmark = pytest.mark.django_db
P = ChecklistTemplate.Purpose
DATA = {"code": "TEST-C1", "name": "测试专项检查表", "mine_type": "processing_plant", "note": "默认项，未核实",
        "items": [{"code": "T-01", "text": "皮带机防护罩齐全", "guidance": "未核实"},
                  {"code": "T-02", "text": "进仓作业审批"}]}


@pytest.fixture
def plant(personas):
    return registry.create_mine(personas.city, code="KC-P01", name="宽城甲选矿厂", enterprise=personas.enterprise_a,
                                county=personas.county_a_region, mine_type=Mine.Type.PROCESSING_PLANT,
                                scale_class="small", status_since=dt.date(2024, 1, 1))


@pytest.fixture
def campaign_template(personas):
    return checklists.ensure_campaign_template(personas.city, DATA)


@pytest.fixture
def accepting(monkeypatch):
    """A campaign check (as the campaigns app registers one) accepting the mines in the returned set only."""
    accepted: set[int] = set()
    monkeypatch.setattr(checklists, "_campaign_checks", [lambda template, mine: mine.pk in accepted])
    return accepted


def test_a_campaign_checklist_is_never_picked_for_a_routine_inspection(personas, plant, campaign_template):
    assert campaign_template.purpose == P.CAMPAIGN and campaign_template.mine_type == "processing_plant"
    routine = checklists.template_for("processing_plant")
    assert routine.purpose == P.ROUTINE and routine != campaign_template
    inspection = start(personas.county_a, plant)
    assert inspection.checklist_template == routine
    assert not inspection.items.filter(code__startswith="T-").exists()


def test_a_campaign_checklist_is_refused_unless_a_campaign_accepts_the_mine(personas, plant, campaign_template):
    with pytest.raises(ValidationError) as refused:
        start(personas.county_a, plant, template=campaign_template)
    assert "template" in refused.value.message_dict
    assert not plant.inspections.exists()


def test_an_accepted_mine_is_inspected_with_the_campaign_checklist(personas, plant, campaign_template, accepting):
    accepting.add(plant.pk)
    inspection = start(personas.county_a, plant, template=campaign_template)
    assert inspection.checklist_template == campaign_template
    assert list(inspection.items.order_by("position").values_list("code", "text")) == [
        ("T-01", "皮带机防护罩齐全"), ("T-02", "进仓作业审批")]
    with pytest.raises(ValidationError):  # another mine is not a site
        start(personas.county_a, personas.mine_a, template=campaign_template)


def test_an_explicit_routine_checklist_must_be_of_the_mines_type(personas):
    with pytest.raises(ValidationError) as refused:
        start(personas.county_a, personas.mine_a, template=checklists.template_for("open_pit"))
    assert "template" in refused.value.message_dict
    inspection = start(personas.county_a, personas.mine_a, template=checklists.template_for("underground"))
    assert inspection.checklist_template.code == "underground"


def test_editing_a_used_campaign_checklist_makes_a_campaign_version_and_retires_the_old(
        personas, plant, campaign_template, accepting):
    accepting.add(plant.pk)
    start(personas.county_a, plant, template=campaign_template)
    new = checklists.add_item(personas.city, campaign_template, text="检修上锁挂牌")
    assert new.pk != campaign_template.pk and new.purpose == P.CAMPAIGN and new.version == 2 and new.active
    assert checklists.active_template("processing_plant").purpose == P.ROUTINE
    campaign_template.refresh_from_db()
    with pytest.raises(ValidationError) as refused:
        start(personas.county_a, plant, template=campaign_template)
    assert "no longer in use" in refused.value.message_dict["template"][0]
    assert start(personas.city, plant, template=new).items.count() == 3
    assert list(checklists.campaign_templates()) == [new]


def test_a_campaign_checklist_is_created_once_from_its_data(personas, campaign_template):
    assert checklists.ensure_campaign_template(personas.city, DATA) == campaign_template
    assert ChecklistTemplate.objects.filter(code="TEST-C1").count() == 1
    with pytest.raises(DomainError):  # a routine checklist's code is not a campaign checklist
        checklists.ensure_campaign_template(personas.city, {**DATA, "code": "underground"})
