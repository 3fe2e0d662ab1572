"""A campaign through the services: created with the shipped task-20 checklist, its fields validated, sites
selected from the registry within the organiser's scope, the lifecycle draft → running → closed (one table, each
step the organiser's), a visit being an ordinary inspection with the campaign checklist, the site following its
inspection to done (or back), exemptions and closing with a reason per open site."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from minesafe.campaigns import services
from minesafe.campaigns.models import Campaign, CampaignSite, SiteVisit
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation
from minesafe.hazards import services as hazards
from minesafe.hazards.models import Hazard, HazardItem
from minesafe.inspections import checklists
from minesafe.inspections import services as inspections
from minesafe.inspections.models import ChecklistTemplate, Finding, Inspection, Method
from minesafe.registry.models import Mine

from .conftest import days, new_campaign, site_of, visit, work_through

pytestmark = pytest.mark.django_db
S = CampaignSite.Status
CS = Campaign.Status


def audited(obj, action: str) -> bool:
    return AuditEvent.objects.filter(object_type=f"campaigns.{obj._meta.model_name}", object_id=str(obj.pk),
                                     action=action).exists()


# Creating ----------------------------------------------------------------------------------------
def test_a_campaign_is_created_as_a_draft_with_the_shipped_processing_plant_checklist(plants):
    campaign = new_campaign(plants.p.city)
    assert campaign.status == CS.DRAFT and campaign.plan_task == 20 and campaign.scope is None
    assert campaign.organiser.kind == Organisation.Kind.CITY_BUREAU and campaign.mine_types == ["processing_plant"]
    checklist = campaign.checklist
    assert checklist.purpose == ChecklistTemplate.Purpose.CAMPAIGN and checklist.code == "PP-2026"
    data = services.reference_checklist()
    assert list(checklist.items.order_by("position").values_list("code", flat=True)) == [
        i["code"] for i in data["items"]]
    areas = {i["code"][:4] for i in data["items"]}
    assert {"PP-B", "PP-C", "PP-R", "PP-M"} <= areas  # belts, bins, roads, maintenance and cleaning
    assert data["confidence"] == "unverified" and "未核实" in checklist.note
    assert all("未核实" in g for g in checklist.items.values_list("guidance", flat=True))
    assert audited(campaign, "create")
    # The next campaign reuses the checklist in use; the routine checklist of processing plants is untouched.
    assert new_campaign(plants.p.city, code="ZX-2026-02").checklist == checklist
    assert checklists.active_template("processing_plant").purpose == ChecklistTemplate.Purpose.ROUTINE


def test_a_countys_campaign_covers_its_own_county_only(plants):
    p = plants.p
    campaign = new_campaign(p.county_a)
    assert campaign.organiser == p.county_a.organisation and campaign.scope == p.county_a_region
    with pytest.raises(ValidationError) as refused:
        new_campaign(p.county_a, code="ZX-2026-09", scope=p.county_b_region)
    assert "scope" in refused.value.message_dict


@pytest.mark.parametrize("persona", ["ent_a", "department", "inspector", "anonymous"])
def test_only_the_city_and_counties_organise_campaigns(plants, persona):
    with pytest.raises(PermissionDenied):
        new_campaign(getattr(plants.p, persona))
    assert not Campaign.objects.exists()


@pytest.mark.parametrize("fields, field", [
    ({"deadline": days(-20)}, "deadline"),  # before the start
    ({"code": "bad code!"}, "code"),
    ({"plan_task": 0}, "plan_task"),
    ({"mine_types": ["underground"]}, "checklist"),  # the checklist is for processing plants
    ({"mine_types": []}, "mine_types"),
    ({"mine_types": ["gold"]}, "mine_types"),
])
def test_campaign_fields_are_validated_and_nothing_is_created(plants, fields, field):
    with pytest.raises(ValidationError) as refused:
        new_campaign(plants.p.city, **fields)
    assert field in refused.value.message_dict
    assert not Campaign.objects.exists()


def test_a_campaign_number_is_used_once(plants):
    new_campaign(plants.p.city)
    with pytest.raises(ValidationError) as refused:
        new_campaign(plants.p.city)
    assert "code" in refused.value.message_dict


def test_a_routine_checklist_cannot_be_a_campaigns_checklist(plants):
    with pytest.raises(ValidationError) as refused:
        new_campaign(plants.p.city, checklist=checklists.active_template("processing_plant"))
    assert "checklist" in refused.value.message_dict


# Sites -------------------------------------------------------------------------------------------
def test_sites_are_the_registrys_mines_of_the_targeted_types_in_scope(plants):
    p = plants.p
    campaign = new_campaign(p.city)
    candidates = set(services.candidate_mines(p.city, campaign))
    assert candidates == {plants.plant_a, plants.plant_a2, plants.plant_b, plants.plant_s}  # not the mines, ponds
    assert set(services.candidate_mines(p.city, campaign, counties=[p.county_b_region.pk])) == {plants.plant_b}
    sites = services.add_sites(p.city, campaign, [plants.plant_a, plants.plant_b])
    assert {s.assigned_organisation for s in sites} == {p.county_a.organisation, p.county_b.organisation}
    assert all(s.status == S.PENDING for s in sites) and all(audited(s, "create") for s in sites)
    assert set(services.candidate_mines(p.city, campaign)) == {plants.plant_a2, plants.plant_s}
    with pytest.raises(ValidationError) as refused:  # already a site; not a targeted type
        services.add_sites(p.city, campaign, [plants.plant_a, p.mine_a])
    assert "mines" in refused.value.message_dict


def test_a_county_adds_only_its_own_countys_mines(plants):
    p = plants.p
    campaign = new_campaign(p.county_a)
    assert set(services.candidate_mines(p.county_a, campaign)) == {plants.plant_a, plants.plant_a2, plants.plant_s}
    with pytest.raises(ValidationError):
        services.add_sites(p.county_a, campaign, [plants.plant_b])
    city_campaign = new_campaign(p.city, code="ZX-2026-02")
    with pytest.raises(PermissionDenied):  # the city's campaign is the city's to change
        services.add_sites(p.county_a, city_campaign, [plants.plant_a])
    with pytest.raises(ValidationError) as refused:  # a county visits its own county's mines only
        services.add_sites(p.city, city_campaign, [plants.plant_b], assigned_organisation=p.county_a.organisation)
    assert "assigned_organisation" in refused.value.message_dict


def test_a_closed_mine_is_never_a_candidate(plants):
    from minesafe.registry import services as registry

    registry.change_status(plants.p.city, plants.plant_a2, Mine.Status.CLOSED, reason="依法关闭")
    campaign = new_campaign(plants.p.city)
    assert plants.plant_a2 not in set(services.candidate_mines(plants.p.city, campaign))


# The lifecycle -----------------------------------------------------------------------------------
def test_starting_needs_sites_and_tells_each_assigned_body(plants):
    p = plants.p
    campaign = new_campaign(p.city)
    with pytest.raises(DomainError):
        services.start_campaign(p.city, campaign)
    services.add_sites(p.city, campaign, [plants.plant_a, plants.plant_b])
    with pytest.raises(PermissionDenied):
        services.start_campaign(p.county_a, campaign)
    services.start_campaign(p.city, campaign)
    assert campaign.status == CS.RUNNING and campaign.started_at is not None and audited(campaign, "transition")
    assert Notification.objects.filter(recipient=p.county_a, subject__contains="1 sites to visit").exists()
    assert Notification.objects.filter(recipient=p.county_b).exists()
    assert not Notification.objects.filter(recipient=p.ent_a).exists()  # campaigns visit unannounced
    with pytest.raises(InvalidTransition):
        services.start_campaign(p.city, campaign)


def test_a_running_campaign_changes_only_its_title_description_and_deadline(running):
    p, campaign = running.p, running.campaign
    services.update_campaign(p.city, campaign, deadline=days(40), title="延期后的专项整治")
    assert campaign.deadline == days(40) and audited(campaign, "update")
    with pytest.raises(DomainError) as refused:
        services.update_campaign(p.city, campaign, mine_types=["processing_plant", "underground"])
    assert refused.value.field == "mine_types"
    with pytest.raises(PermissionDenied):
        services.update_campaign(p.county_a, campaign, title="x")


def test_closing_needs_every_site_done_or_a_reason_for_each_open_one(running):
    p, campaign = running.p, running.campaign
    done = site_of(campaign, running.plant_a)
    work_through(visit(p.county_a, done))
    services.exempt_site(p.city, site_of(campaign, running.plant_a2), "已关闭改造")
    open_site = site_of(campaign, running.plant_b)
    with pytest.raises(ValidationError) as refused:
        services.close_campaign(p.city, campaign, note="总结")
    assert list(refused.value.message_dict) == [f"reason_{open_site.pk}"]
    assert Campaign.objects.get(pk=campaign.pk).status == CS.RUNNING
    services.close_campaign(p.city, campaign, reasons={open_site.pk: "企业停产，复产前检查"}, note="总结")
    assert campaign.status == CS.CLOSED and campaign.close_note == "总结"
    open_site.refresh_from_db()
    assert open_site.unfinished_reason == "企业停产，复产前检查" and open_site.status == S.PENDING
    with pytest.raises(InvalidTransition):
        services.close_campaign(p.city, campaign)
    with pytest.raises(DomainError):
        services.update_campaign(p.city, campaign, title="x")


# Visits ------------------------------------------------------------------------------------------
def test_a_visit_is_an_inspection_with_the_campaign_checklist_and_the_site_follows_it(running):
    p, campaign = running.p, running.campaign
    site = site_of(campaign, running.plant_a)
    inspection = visit(p.county_a, site, method=Method.UNANNOUNCED)
    assert inspection.checklist_template == campaign.checklist and inspection.status == Inspection.Status.IN_PROGRESS
    assert list(inspection.items.values_list("code", flat=True)) == list(
        campaign.checklist.items.values_list("code", flat=True))
    assert SiteVisit.objects.get(inspection=inspection).site == site and site.status == S.INSPECTED
    work_through(inspection, found=2)
    site.refresh_from_db()
    assert (site.status, site.findings_count, site.open_findings) == (S.RECTIFYING, 2, 2)
    assert AuditEvent.objects.filter(object_type="campaigns.campaignsite", object_id=str(site.pk),
                                     action="transition", after__status=S.RECTIFYING).exists()
    first, second = Finding.objects.filter(inspection=inspection).order_by("pk")
    inspections.confirm_rectified(p.county_a, first, "复查已整改")
    site.refresh_from_db()
    assert (site.status, site.open_findings) == (S.RECTIFYING, 1)
    inspections.confirm_rectified(p.county_a, second, "复查已整改")
    site.refresh_from_db()
    assert site.status == S.DONE and site.closed_at is not None and site.findings_count == 2


def test_a_clean_visit_settles_the_site_at_completion(running):
    site = site_of(running.campaign, running.plant_b)
    work_through(visit(running.p.county_b, site))
    site.refresh_from_db()
    assert site.status == S.DONE and site.findings_count == 0


def test_a_cancelled_visit_puts_the_site_back_to_pending(running):
    site = site_of(running.campaign, running.plant_a)
    inspection = visit(running.p.county_a, site)
    inspections.cancel(running.p.county_a, inspection, "企业停电，无法检查")
    site.refresh_from_db()
    assert site.status == S.PENDING
    visit(running.p.county_a, site)  # visited again later


def test_a_follow_up_visit_while_rectifying_and_no_visit_of_a_done_site(running):
    p = running.p
    site = site_of(running.campaign, running.plant_a)
    work_through(visit(p.county_a, site), found=1)
    follow_up = visit(p.county_a, site)
    with pytest.raises(DomainError):  # one visit at a time
        visit(p.county_a, site)
    work_through(follow_up)
    site.refresh_from_db()
    assert site.status == S.RECTIFYING and site.visits.count() == 2  # the first visit's finding is still open
    inspections.confirm_rectified(p.county_a, Finding.objects.get(inspection__campaign_visit__site=site),
                                  "复查已整改")
    site.refresh_from_db()
    assert site.status == S.DONE
    with pytest.raises(InvalidTransition):
        visit(p.county_a, site)


@pytest.mark.parametrize("persona", ["county_b", "ent_a", "department", "inspector"])
def test_only_the_assigned_body_or_the_city_visits_a_site(running, persona):
    site = site_of(running.campaign, running.plant_a)
    with pytest.raises(PermissionDenied):
        visit(getattr(running.p, persona), site)
    assert not Inspection.objects.exists()


def test_the_city_visits_any_site_and_an_assigned_inspection_body_its_mines(running):
    p = running.p
    visit(p.city, site_of(running.campaign, running.plant_b))
    campaign = new_campaign(p.city, code="ZX-2026-02")
    services.add_sites(p.city, campaign, [running.plant_a2], assigned_organisation=p.inspector.organisation)
    services.start_campaign(p.city, campaign)
    inspection = visit(p.inspector, site_of(campaign, running.plant_a2))
    assert inspection.organisation == p.inspector.organisation


def test_sites_are_visited_only_while_the_campaign_runs(plants):
    p = plants.p
    campaign = new_campaign(p.city)
    services.add_sites(p.city, campaign, [plants.plant_a])
    with pytest.raises(DomainError):
        visit(p.county_a, site_of(campaign, plants.plant_a))


def test_a_major_finding_keeps_the_site_open_until_its_hazard_is_settled(plants):
    """A campaign may target more types than its checklist's: a visit of an underground mine reports a major
    hazard through the hazards app; the site is done when the hazard is closed or cancelled, and follows it back."""
    p = plants.p
    campaign = new_campaign(p.city, mine_types=["processing_plant", "underground"])
    services.add_sites(p.city, campaign, [p.mine_a])
    services.start_campaign(p.city, campaign)
    site = site_of(campaign, p.mine_a)
    inspection = visit(p.county_a, site)
    item = HazardItem.objects.filter(catalogue__active=True, facility_type="underground").order_by("code").first()
    finding = inspections.add_finding(p.county_a, inspection, description="安全出口堵塞", deadline=days(60),
                                      major=True, hazard_item=item)
    work_through(inspection)
    site.refresh_from_db()
    assert site.status == S.RECTIFYING and site.open_findings == 1
    hazard = Hazard.objects.get(pk=finding.hazard_id)
    hazards.transition(p.county_a, hazard, Hazard.Status.CANCELLED, reason="复核不构成重大隐患")
    site.refresh_from_db()
    assert site.status == S.DONE and site.open_findings == 0


# Exemptions --------------------------------------------------------------------------------------
def test_a_site_not_yet_visited_is_exempted_with_a_reason(running):
    p = running.p
    site = site_of(running.campaign, running.plant_a)
    with pytest.raises(ValidationError) as refused:
        services.exempt_site(p.city, site, "  ")
    assert "reason" in refused.value.message_dict
    with pytest.raises(PermissionDenied):
        services.exempt_site(p.county_a, site, "停产")  # the city's campaign
    services.exempt_site(p.city, site, "停产")
    assert site.status == S.EXEMPT and site.exempt_reason == "停产" and audited(site, "transition")
    visited = site_of(running.campaign, running.plant_b)
    visit(p.county_b, visited)
    with pytest.raises(InvalidTransition):
        services.exempt_site(p.city, visited, "停产")


def test_a_site_is_removed_only_before_it_is_visited(running):
    p = running.p
    site = site_of(running.campaign, running.plant_a)
    visit(p.county_a, site)
    with pytest.raises(DomainError):
        services.remove_site(p.city, site)
    other = site_of(running.campaign, running.plant_b)
    services.remove_site(p.city, other)
    assert not CampaignSite.objects.filter(pk=other.pk).exists()
    assert AuditEvent.objects.filter(object_type="campaigns.campaignsite", object_id=str(other.pk),
                                     action="delete").exists()


def test_visits_use_the_version_of_the_checklist_in_use_after_the_city_edits_it(running):
    p, campaign = running.p, running.campaign
    first = visit(p.county_a, site_of(campaign, running.plant_a))
    version_2 = checklists.add_item(p.city, campaign.checklist, text="破碎机检修平台护栏齐全")
    assert version_2.version == 2 and version_2.purpose == ChecklistTemplate.Purpose.CAMPAIGN
    second = visit(p.county_b, site_of(campaign, running.plant_b))
    assert first.checklist_template.version == 1 and second.checklist_template == version_2
    assert second.items.count() == first.items.count() + 1
    campaign.refresh_from_db()
    assert campaign.checklist.version == 1  # the campaign names its checklist; visits take the version in use
    services.update_campaign(p.city, campaign, title="新标题", checklist=version_2)  # the same checklist: kept
