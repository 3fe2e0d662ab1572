"""The audit trail's field labels: the model's verbose names, and the key itself for anything else."""

from types import SimpleNamespace

from minesafe.core.templatetags.minesafe_tags import audit_fields


def test_labels_come_from_the_model_and_a_reverse_relation_keeps_its_key():
    event = SimpleNamespace(object_type="inspections.inspection")
    from minesafe.inspections.models import Inspection

    pairs = dict(audit_fields(event, {"inspected_on": "2026-11-30", "items": 12, "team": "", "not_a_field": 1}))
    assert pairs[str(Inspection._meta.get_field("inspected_on").verbose_name)] == "2026-11-30"
    assert pairs["items"] == 12  # a reverse relation (InspectionItem) has no verbose name of its own
    assert pairs["not_a_field"] == 1
    assert "—" in pairs.values()  # a blank value


def test_an_unknown_object_type_shows_the_keys():
    assert audit_fields(SimpleNamespace(object_type="nope"), {"a": None}) == [("a", "—")]
