"""Training: providers and their checks (fake training bars a provider for good, and its training stops
counting), person training records and the enforcement staff's rotation training with their refusals, annual
coverage of principal heads and five-post holders per county, rotation coverage, and the role x page/API
matrix."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone, translation
from rest_framework.test import APIClient

from conftest import make_user
from minesafe.core.errors import DomainError, InvalidTransition
from minesafe.core.models import AuditEvent, Notification, Organisation, User
from minesafe.core.validators import credit_code_check_char, resident_id_check_char
from minesafe.personnel import training as services
from minesafe.personnel.models import Appointment, Person, ProviderCheck, TrainingProvider, TrainingRecord
from minesafe.web.tests.test_scoping import MINES, PERSONAS, SCOPE, api_client, web_client

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 3, 10)
K = TrainingRecord.Kind
S = TrainingProvider.Standing
OTHERS_OF_MINE_A = ("county_b", "ent_b", "department", "inspector")


@pytest.fixture(autouse=True)
def frozen(monkeypatch):
    moment = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(9)))
    monkeypatch.setattr(timezone, "now", lambda: moment)


@pytest.fixture(autouse=True)
def english():
    with translation.override("en"):
        yield


def rid(seq: int) -> str:
    first17 = f"13082719800101{seq:03d}"
    return first17 + resident_id_check_char(first17)


def credit(prefix17: str = "91130800MA0000001") -> str:
    return prefix17 + credit_code_check_char(prefix17)


def person(personas, mine=None, seq=1, name="张三", id_number=None) -> Person:
    return Person.objects.create(mine=mine or personas.mine_a, name=name, id_number=id_number or rid(seq),
                                 education="college", frontline_years=Decimal(12), created_by=personas.city)


def appoint(personas, holder, post, start=dt.date(2024, 1, 1), end=None) -> Appointment:
    return Appointment.objects.create(person=holder, mine=holder.mine, post=post, start_date=start, end_date=end,
                                      created_by=personas.city)


def provider(personas, name="承德安全培训中心", actor=None) -> TrainingProvider:
    return services.create_provider(actor or personas.city, name=name, credit_code=credit(),
                                    qualification="安全培训机构")


def train(personas, holder, kind=K.CHIEF_ANNUAL, held_on=dt.date(2026, 2, 1), actor=None, **extra):
    return services.record_training(actor or personas.ent_a, holder, kind=kind, held_on=held_on,
                                    hours=extra.pop("hours", 24), **extra)


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def counts() -> tuple:
    return (TrainingProvider.objects.count(), ProviderCheck.objects.count(), TrainingRecord.objects.count(),
            AuditEvent.objects.count(), list(TrainingProvider.objects.values_list("standing", flat=True)))


# Providers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["city", "county_a", "county_b"])
def test_the_city_and_counties_record_providers(personas, persona):
    made = provider(personas, actor=getattr(personas, persona))
    assert (made.standing, made.credit_code, made.created_by) == (S.GOOD, credit(), getattr(personas, persona))
    assert AuditEvent.objects.filter(object_type="personnel.trainingprovider", object_id=str(made.pk)).exists()


@pytest.mark.parametrize("persona", ["ent_a", "department", "inspector"])
def test_no_one_else_records_or_checks_providers(personas, persona):
    made = provider(personas)
    before = counts()
    with pytest.raises(PermissionDenied):
        provider(personas, name="另一机构", actor=getattr(personas, persona))
    with pytest.raises(PermissionDenied):
        services.check_provider(getattr(personas, persona), made, checked_on=TODAY, findings="x", result=S.GOOD)
    assert counts() == before


@pytest.mark.parametrize(("values", "field"), [
    ({"name": " "}, "name"), ({"credit_code": "91130800MA00000019"}, "credit_code"), ({"name": "x" * 129}, "name")])
def test_bad_provider_input_is_refused(personas, values, field):
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.create_provider(personas.city, **{"name": "机构", **values})
    assert field in exc.value.message_dict and counts() == before


def test_provider_names_are_unique(personas):
    provider(personas)
    with pytest.raises(ValidationError) as exc:
        provider(personas, actor=personas.county_a)
    assert "already recorded" in exc.value.message_dict["name"][0]


def test_a_check_sets_the_standing_and_fake_training_bars_for_good(personas):
    made = provider(personas)
    trainee = person(personas)
    train(personas, trainee, provider=made)
    services.check_provider(personas.county_a, made, checked_on=dt.date(2026, 1, 5), findings="台账不全",
                            result=S.WARNED)
    assert fresh(made).standing == S.WARNED
    services.check_provider(personas.county_a, made, checked_on=dt.date(2026, 3, 1),
                            findings="虚假培训：签到表代签，证书未经考试", result=S.BARRED)
    assert fresh(made).standing == S.BARRED
    told = Notification.objects.filter(subject__contains="Training provider barred")
    assert {n.recipient for n in told} >= {personas.ent_a, personas.county_a}
    assert personas.ent_b not in {n.recipient for n in told}
    before = counts()
    with pytest.raises(InvalidTransition):
        services.check_provider(personas.city, made, checked_on=TODAY, findings="整改完成", result=S.GOOD)
    assert counts() == before
    services.check_provider(personas.city, made, checked_on=TODAY, findings="再次发现假证", result=S.BARRED)
    assert made.checks.count() == 3
    transitions = AuditEvent.objects.filter(object_type="personnel.trainingprovider",
                                            action=AuditEvent.Action.TRANSITION)
    assert [e.after["standing"] for e in transitions.order_by("seq")] == [S.WARNED, S.BARRED]


@pytest.mark.parametrize(("values", "field"), [
    ({"checked_on": TODAY + dt.timedelta(days=1)}, "checked_on"), ({"checked_on": None}, "checked_on"),
    ({"findings": " "}, "findings"), ({"result": "excellent"}, "result"),
    ({"checked_on": dt.date(2025, 12, 31)}, "checked_on")])
def test_bad_checks_are_refused(personas, values, field):
    made = provider(personas)
    services.check_provider(personas.city, made, checked_on=dt.date(2026, 1, 1), findings="正常", result=S.GOOD)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        services.check_provider(personas.city, made, **{"checked_on": TODAY, "findings": "x", "result": S.GOOD,
                                                        **values})
    assert field in exc.value.message_dict and counts() == before


# Person training records -------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["city", "county_a", "ent_a"])
def test_the_enterprise_and_its_regulators_record_training(personas, persona):
    made = provider(personas)
    record = train(personas, person(personas), actor=getattr(personas, persona), provider=made, score=Decimal(92))
    record = fresh(record)
    assert (record.kind, record.hours, record.score, record.provider, record.passed) == (
        K.CHIEF_ANNUAL, Decimal("24.0"), Decimal("92.0"), made, True)


@pytest.mark.parametrize("persona", OTHERS_OF_MINE_A)
def test_no_one_else_records_training(personas, persona):
    trainee = person(personas)
    before = counts()
    with pytest.raises(PermissionDenied):
        train(personas, trainee, actor=getattr(personas, persona))
    assert counts() == before


@pytest.mark.parametrize(("values", "field", "words"), [
    ({"held_on": TODAY + dt.timedelta(days=1)}, "held_on", "future"),
    ({"hours": 0}, "hours", "more than 0"), ({"hours": 1001}, "hours", "at most 1000"),
    ({"hours": "many"}, "hours", "not a number"),
    ({"score": 101}, "score", "between 0 and 100"),
    ({"kind": K.ENFORCEMENT_ROTATION}, "kind", "not a kind of person training"),
    ({"kind": K.SPECIAL_OPERATION}, "category", "special-operation category"),
    ({"kind": K.SPECIAL_OPERATION, "category": "juggling"}, "category", "special-operation category"),
    ({"category": "nm_blasting"}, "category", "only special-operation training"),
])
def test_bad_training_input_is_refused(personas, values, field, words):
    trainee = person(personas)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        train(personas, trainee, **values)
    assert words in " ".join(exc.value.message_dict[field])
    assert counts() == before


def test_special_operation_training_names_its_category_and_duplicates_are_refused(personas):
    trainee = person(personas)
    record = train(personas, trainee, kind=K.SPECIAL_OPERATION, category="nm_blasting", passed=False,
                   score=Decimal(55))
    assert (record.category, record.passed) == ("nm_blasting", False)
    with pytest.raises(DomainError):
        train(personas, trainee, kind=K.SPECIAL_OPERATION, category="nm_blasting")


def test_a_barred_provider_takes_no_new_records(personas):
    made = provider(personas)
    services.check_provider(personas.city, made, checked_on=TODAY, findings="假证", result=S.BARRED)
    before = counts()
    with pytest.raises(ValidationError) as exc:
        train(personas, person(personas), provider=made)
    assert "barred" in exc.value.message_dict["provider"][0]
    assert counts() == before


# Rotation training -------------------------------------------------------------------------------
def test_the_city_records_an_officials_rotation_training(personas):
    record = services.record_rotation_training(personas.city, personas.county_a, held_on=dt.date(2025, 6, 1),
                                               hours=40, provider=provider(personas))
    assert (record.kind, record.official, record.person) == (K.ENFORCEMENT_ROTATION, personas.county_a, None)
    with pytest.raises(DomainError):
        services.record_rotation_training(personas.city, personas.county_a, held_on=dt.date(2025, 6, 1), hours=8)


@pytest.mark.parametrize("persona", ["county_a", "ent_a", "department", "inspector"])
def test_only_the_city_records_rotation_training(personas, persona):
    before = counts()
    with pytest.raises(PermissionDenied):
        services.record_rotation_training(getattr(personas, persona), personas.county_a, held_on=TODAY, hours=8)
    assert counts() == before


@pytest.mark.parametrize("official", ["ent_a", "department", "inspector"])
def test_rotation_training_is_for_county_and_city_officials_only(personas, official):
    with pytest.raises(ValidationError) as exc:
        services.record_rotation_training(personas.city, getattr(personas, official), held_on=TODAY, hours=8)
    assert "official" in exc.value.message_dict


# Annual coverage ---------------------------------------------------------------------------------
@pytest.fixture
def chiefs(personas):
    """County A: mine_a's principal and mine manager (trained), its chief engineer (trained by a provider later
    barred), a deputy who left in 2025 (not counted for 2026), mine_a2's mine manager (failed); county B:
    mine_b's principal who is also its mine manager (principal training only)."""
    bad = provider(personas, name="虚假培训机构")
    principal_a = person(personas, seq=1, name="甲")
    appoint(personas, principal_a, "principal")
    manager_a = person(personas, seq=2, name="乙")
    appoint(personas, manager_a, "mine_manager", start=dt.date(2026, 2, 1))
    engineer_a = person(personas, seq=3, name="丙")
    appoint(personas, engineer_a, "chief_engineer")
    gone = person(personas, seq=4, name="丁")
    appoint(personas, gone, "deputy_safety", end=dt.date(2025, 12, 31))
    manager_a2 = person(personas, mine=personas.mine_a2, seq=5, name="戊")
    appoint(personas, manager_a2, "mine_manager")
    staff = person(personas, seq=6, name="己")
    appoint(personas, staff, "safety_staff")  # not a post that needs the annual training
    both_b = person(personas, mine=personas.mine_b, seq=7, name="庚")
    appoint(personas, both_b, "principal")
    appoint(personas, both_b, "mine_manager")
    train(personas, principal_a, kind=K.PRINCIPAL_ANNUAL, held_on=dt.date(2026, 1, 20))
    train(personas, manager_a, kind=K.CHIEF_ANNUAL, held_on=dt.date(2026, 1, 10))  # before the appointment: counts
    train(personas, engineer_a, kind=K.CHIEF_ANNUAL, provider=bad)
    train(personas, manager_a2, kind=K.CHIEF_ANNUAL, passed=False, actor=personas.city)
    train(personas, manager_a2, kind=K.CHIEF_ANNUAL, held_on=dt.date(2025, 11, 1), actor=personas.city)  # last year
    train(personas, both_b, kind=K.PRINCIPAL_ANNUAL, actor=personas.ent_b)
    train(personas, gone, kind=K.PRINCIPAL_ANNUAL)  # the wrong kind for a deputy (and gone anyway)
    services.check_provider(personas.city, bad, checked_on=TODAY, findings="虚假培训", result=S.BARRED)
    return personas


def by_county(coverage):
    return {c.county_code: c for c in coverage.counties}


def test_annual_coverage_per_county_counts_passed_training_of_the_right_kind(chiefs):
    coverage = services.annual_coverage(chiefs.city, 2026)
    counties = by_county(coverage)
    a, b = counties["130827"], counties["130822"]
    assert (a.required, a.trained, a.share, a.target, a.meets_target) == (4, 2, 0.5, 1.0, False)
    assert sorted((m.person_name, m.kind) for m in a.missing) == [("丙", K.CHIEF_ANNUAL), ("戊", K.CHIEF_ANNUAL)]
    assert (b.required, b.trained) == (2, 1)
    assert [(m.person_name, m.kind, m.posts) for m in b.missing] == [("庚", K.CHIEF_ANNUAL, ("Mine manager",))]
    assert (coverage.required, coverage.trained, coverage.share) == (6, 3, 0.5)
    last_year = by_county(services.annual_coverage(chiefs.city, 2025))["130827"]
    # 2025: principal, engineer, deputy (left at the end of 2025), mine_a2's manager (trained 2025-11-01)
    assert (last_year.required, last_year.trained) == (4, 1)


def test_training_at_another_mine_under_the_same_id_number_counts(chiefs):
    moved = Person.objects.get(name="戊")
    twin = person(chiefs, mine=chiefs.mine_a, name="戊", id_number=moved.id_number)
    train(chiefs, twin, kind=K.CHIEF_ANNUAL, held_on=dt.date(2026, 3, 1))
    assert "戊" not in {m.person_name for m in by_county(services.annual_coverage(chiefs.city, 2026))["130827"].missing}


@pytest.mark.parametrize("persona", PERSONAS)
def test_annual_coverage_is_scoped(chiefs, persona):
    coverage = services.annual_coverage(getattr(chiefs, persona), 2026)
    expected_counties = {getattr(chiefs, n).county.code for n in SCOPE[persona]}
    assert {c.county_code for c in coverage.counties} == expected_counties
    names = {m.person_name for c in coverage.counties for m in c.missing}
    expected = {"丙": "mine_a", "戊": "mine_a2", "庚": "mine_b"}
    assert names == {n for n, mine in expected.items() if mine in SCOPE[persona]}


# Rotation coverage -------------------------------------------------------------------------------
@pytest.fixture
def officials(personas):
    county_a2 = make_user("county_a2", User.Role.COUNTY, personas.county_a.organisation)
    make_user("county_a_retired", User.Role.COUNTY, personas.county_a.organisation, is_active=False)
    bad = provider(personas, name="虚假培训机构")
    services.record_rotation_training(personas.city, personas.county_a, held_on=dt.date(2024, 5, 1), hours=40)
    services.record_rotation_training(personas.city, county_a2, held_on=dt.date(2023, 12, 31), hours=40)  # too old
    services.record_rotation_training(personas.city, personas.county_b, held_on=dt.date(2025, 5, 1), hours=40,
                                      provider=bad)
    services.record_rotation_training(personas.city, personas.city, held_on=dt.date(2026, 1, 5), hours=40)
    services.check_provider(personas.city, bad, checked_on=TODAY, findings="假培训", result=S.BARRED)
    return personas


def test_rotation_coverage_counts_officials_trained_within_three_years(officials):
    coverage = services.rotation_coverage(2026)
    assert (coverage.window_start, coverage.window_end, coverage.years) == (
        dt.date(2024, 1, 1), dt.date(2026, 12, 31), 3)
    units = {u.unit: u for u in coverage.units}
    assert (units["city"].officials, units["city"].trained) == (1, 1)
    assert (units["130827"].officials, units["130827"].trained, [u.username for u in units["130827"].missing]) == (
        2, 1, ["county_a2"])
    assert (units["130822"].trained, units["130822"].share) == (0, 0.0)  # trained by a barred provider
    assert (coverage.officials, coverage.trained) == (4, 2)
    earlier = {u.unit: u.trained for u in services.rotation_coverage(2025).units}
    assert earlier == {"city": 0, "130827": 2, "130822": 0}  # 2023-2025: county_a2 counts, the city not yet


@pytest.mark.parametrize(("persona", "units"), [
    ("city", {"city", "130827", "130822"}), ("county_a", {"130827"}), ("county_b", {"130822"}),
    ("ent_a", set()), ("department", set()), ("inspector", set())])
def test_rotation_coverage_is_scoped(officials, persona, units):
    assert {u.unit for u in services.rotation_coverage(2026, getattr(officials, persona)).units} == units


# Pages -------------------------------------------------------------------------------------------
def test_providers_pages_for_readers_and_managers(client, personas):
    made = provider(personas)
    reader = web_client(client, personas, "ent_a")
    html = reader.get("/personnel/training/providers/").content.decode()
    assert f'data-provider="{made.pk}"' in html and 'id="add-provider"' not in html
    assert reader.post("/personnel/training/providers/", {"provider-name": "x"}).status_code == 403
    detail = reader.get(f"/personnel/training/providers/{made.pk}/")
    assert detail.status_code == 200 and 'id="step-check"' not in detail.content.decode()
    county = web_client(client.__class__(), personas, "county_a")
    response = county.post("/personnel/training/providers/", {"provider-name": "兴隆培训学校"})
    created = TrainingProvider.objects.get(name="兴隆培训学校")
    assert response.status_code == 302 and response["Location"] == f"/personnel/training/providers/{created.pk}/"
    response = county.post(response["Location"], {"action": "check", "check-checked_on": "2026-03-01",
                                                  "check-findings": "伪造培训档案", "check-result": "barred"})
    assert response.status_code == 302 and fresh(created).standing == S.BARRED
    assert 'data-standing="barred"' in county.get(f"/personnel/training/providers/{created.pk}/").content.decode()


def test_the_enterprise_records_training_on_the_mine_page(client, personas):
    trainee = person(personas)
    made = provider(personas)
    web = web_client(client, personas, "ent_a")
    page = f"/personnel/mines/{personas.mine_a.pk}/training/"
    assert 'id="add-training"' in web.get(page).content.decode()
    response = web.post(page, {"training-person": trainee.pk, "training-kind": "special_operation",
                               "training-held_on": "2026-03-01", "training-hours": "16", "training-passed": "on"})
    assert response.status_code == 200 and not TrainingRecord.objects.exists()
    assert "category" in response.context["form"].errors
    response = web.post(page, {"training-person": trainee.pk, "training-kind": "special_operation",
                               "training-category": "nm_blasting", "training-provider": made.pk,
                               "training-held_on": "2026-03-01", "training-hours": "16", "training-passed": "on"})
    assert response.status_code == 302
    record = TrainingRecord.objects.get()
    assert (record.category, record.provider, record.passed) == ("nm_blasting", made, True)
    assert f'data-training="{record.pk}"' in web.get(page).content.decode()


@pytest.mark.parametrize("persona", ["department", "inspector", "county_b", "ent_b"])
def test_readers_and_outsiders_cannot_record_training_on_the_pages(client, personas, persona):
    trainee = person(personas, mine=personas.mine_a2)
    response = web_client(client, personas, persona).post(
        f"/personnel/mines/{personas.mine_a2.pk}/training/",
        {"training-person": trainee.pk, "training-kind": "chief_annual", "training-held_on": "2026-03-01",
         "training-hours": "16"})
    assert response.status_code == (403 if persona in ("department", "inspector") else 404)
    assert not TrainingRecord.objects.exists()


def test_the_city_records_rotation_training_on_the_page(client, personas):
    web = web_client(client, personas, "city")
    response = web.post("/personnel/training/rotation/", {"rotation-official": personas.county_b.pk,
                                                          "rotation-held_on": "2026-03-01", "rotation-hours": "40",
                                                          "rotation-passed": "on"})
    assert response.status_code == 302
    record = TrainingRecord.objects.get()
    assert (record.official, record.kind) == (personas.county_b, K.ENFORCEMENT_ROTATION)
    county_b = web_client(client.__class__(), personas, "county_b")
    assert f'data-training="{record.pk}"' in county_b.get("/personnel/training/rotation/").content.decode()
    county_a = web_client(client.__class__(), personas, "county_a")
    page = county_a.get("/personnel/training/rotation/").content.decode()
    assert f'data-training="{record.pk}"' not in page and 'id="add-rotation"' not in page
    assert county_a.post("/personnel/training/rotation/", {"rotation-official": personas.county_a.pk}
                         ).status_code == 403


def test_the_coverage_page_shows_counties_and_who_is_missing(client, chiefs):
    web = web_client(client, chiefs, "county_a")
    response = web.get("/personnel/training/coverage/?year=2026")
    html = response.content.decode()
    assert 'data-county="130827" data-required="4" data-trained="2"' in html
    assert 'data-county="130822"' not in html
    assert "丙" in html and "戊" in html and "庚" not in html
    assert 'id="rotation-coverage"' in html
    ent = web_client(client.__class__(), chiefs, "ent_a").get("/personnel/training/coverage/").content.decode()
    assert 'id="rotation-coverage"' not in ent and 'data-required="3"' in ent  # mine_a only


# The role x page/API matrix ------------------------------------------------------------------------
@pytest.fixture
def world(personas):
    """One training record per fixture mine, and one rotation record for each county user."""
    for i, name in enumerate(MINES):
        mine = getattr(personas, name)
        train(personas, person(personas, mine=mine, seq=i + 1, name=f"{name}-trainee"), actor=personas.city)
    for official in (personas.county_a, personas.county_b):
        services.record_rotation_training(personas.city, official, held_on=dt.date(2025, 5, 1), hours=40)
    return personas


ROTATION_SEEN = {"city": {"county_a", "county_b"}, "county_a": {"county_a"}, "county_b": {"county_b"}}


@pytest.mark.parametrize("persona", PERSONAS)
def test_training_pages_show_exactly_the_personas_records(client, world, persona):
    web = web_client(client, world, persona)
    response = web.get("/personnel/training/")
    if persona == "anonymous":
        assert response.status_code == 302
        assert web.get("/personnel/training/providers/").status_code == 302
        return
    html = response.content.decode()
    mine_ids = {getattr(world, n).pk: n for n in MINES}
    shown = {mine_ids[int(row.split('"')[0])] for row in html.split('data-mine="')[1:]}
    assert shown == SCOPE[persona]
    for name in MINES:
        assert web.get(f"/personnel/mines/{getattr(world, name).pk}/training/").status_code == (
            200 if name in SCOPE[persona] else 404)
    rotation = web.get("/personnel/training/rotation/").content.decode()
    seen = {u for u in ("county_a", "county_b") if f'data-official="{getattr(world, u).pk}"' in rotation}
    assert seen == ROTATION_SEEN.get(persona, set())
    assert web.get("/personnel/training/providers/").status_code == 200
    assert web.get("/personnel/training/coverage/").status_code == 200


@pytest.mark.parametrize("persona", PERSONAS)
def test_the_training_api_is_scoped(world, persona):
    api = api_client(world, persona)
    response = api.get("/api/v1/training-records/?limit=500")
    if persona == "anonymous":
        assert response.status_code == 403
        assert api.get("/api/v1/training-providers/").status_code == 403
        assert api.get("/api/v1/training-coverage/").status_code == 403
        return
    rows = response.json()["results"]
    assert {r["mine"] for r in rows if r["person"]} == {getattr(world, n).pk for n in SCOPE[persona]}
    officials = {r["official"] for r in rows if r["official"]}
    assert officials == {getattr(world, u).pk for u in ROTATION_SEEN.get(persona, set())}
    for record in TrainingRecord.objects.all():
        expected = 200 if (record.person and any(record.person.mine_id == getattr(world, n).pk
                                                 for n in SCOPE[persona])) or (
            record.official and record.official.username in ROTATION_SEEN.get(persona, set())) else 404
        assert api.get(f"/api/v1/training-records/{record.pk}/").status_code == expected
    coverage = api.get("/api/v1/training-coverage/?year=2026").json()
    assert {c["county_code"] for c in coverage["counties"]} == {getattr(world, n).county.code
                                                                for n in SCOPE[persona]}
    units = {u["unit"] for u in api.get("/api/v1/training-coverage/rotation/?year=2026").json()["units"]}
    assert units == {"city": {"city", "130827", "130822"}, "county_a": {"130827"},
                     "county_b": {"130822"}}.get(persona, set())


def api(user) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.force_authenticate(user)
    return client


def test_providers_checks_and_records_through_the_api(personas):
    trainee = person(personas)
    assert api(personas.ent_a).post("/api/v1/training-providers/", {"name": "x"}, format="json").status_code == 403
    response = api(personas.county_a).post("/api/v1/training-providers/", {"name": "宽城培训中心",
                                                                           "credit_code": credit()}, format="json")
    assert response.status_code == 201, response.json()
    provider_id = response.json()["id"]
    ent = api(personas.ent_a)
    response = ent.post("/api/v1/training-records/", {"kind": "chief_annual", "person": trainee.pk,
                                                      "provider": provider_id, "held_on": "2026-03-01",
                                                      "hours": "24"}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["counts"] is True and response.json()["mine"] == personas.mine_a.pk
    response = api(personas.city).post(f"/api/v1/training-providers/{provider_id}/check/", {
        "checked_on": "2026-03-05", "findings": "假证", "result": "barred"}, format="json")
    assert response.status_code == 201 and response.json()["result"] == "barred"
    record = ent.get("/api/v1/training-records/").json()["results"][0]
    assert record["counts"] is False
    response = ent.post("/api/v1/training-records/", {"kind": "staff", "person": trainee.pk, "provider": provider_id,
                                                      "held_on": "2026-03-02", "hours": "8"}, format="json")
    assert response.status_code == 400 and "provider" in response.json()
    response = api(personas.ent_b).post("/api/v1/training-records/", {"kind": "staff", "person": trainee.pk,
                                                                      "held_on": "2026-03-02", "hours": "8"},
                                        format="json")
    assert response.status_code == 400 and "person" in response.json()
    city = api(personas.city)
    response = city.post("/api/v1/training-records/", {"kind": "enforcement_rotation", "official": personas.county_a.pk,
                                                       "held_on": "2026-01-05", "hours": "40"}, format="json")
    assert response.status_code == 201 and response.json()["official_name"] == str(personas.county_a)
    response = city.post("/api/v1/training-records/", {"kind": "enforcement_rotation", "person": trainee.pk,
                                                       "held_on": "2026-01-05", "hours": "40"}, format="json")
    assert response.status_code == 400 and "official" in response.json()
    response = api(personas.county_a).post("/api/v1/training-records/", {
        "kind": "enforcement_rotation", "official": personas.county_a.pk, "held_on": "2026-01-06", "hours": "40"},
        format="json")
    assert response.status_code == 403
    assert api(personas.department).get("/api/v1/training-providers/").json()["count"] == 1
    assert api(personas.city).get("/api/v1/training-coverage/?year=x").status_code == 400


def test_an_inactive_county_organisation_user_is_not_an_official(personas):
    other = Organisation.objects.get(kind="county", region=personas.county_b_region)
    retired = make_user("retired", User.Role.COUNTY, other, is_active=False)
    with pytest.raises(ValidationError):
        services.record_rotation_training(personas.city, retired, held_on=TODAY, hours=8)
