"""Forms of the penalty pages: field-level checks only; services.py applies permissions and the rules."""

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from minesafe.registry.forms import DateInput

from . import benchmark, legal
from .models import Challenge, Payment, PenaltyCase

MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": 0}


def entry_label(entry) -> str:
    """A benchmark entry (violation or factor) in the page's language."""
    english = not (get_language() or "zh-hans").startswith("zh")
    zh = entry["zh"] if isinstance(entry, dict) else entry.zh
    en = entry.get("en", "") if isinstance(entry, dict) else entry.en
    return f"{en} ({zh})" if english and en else zh


def violation_choices(bench=None):
    bench = bench or benchmark.active()
    return [(v.key, entry_label(v)) for v in bench.violations.values()]


def level_choices(violation) -> list:
    return [(lv.key, lv.zh) for lv in violation.levels.values()] if violation else []


def factor_choices(bench) -> list:
    return ([(k, "↑ " + entry_label(f)) for k, f in bench.aggravating.items()]
            + [(k, "↓ " + entry_label(f)) for k, f in bench.mitigating.items()])


def provision_choices() -> list:
    return [(p["key"], legal.label(p)) for role in (legal.VIOLATED, legal.PENALTY) for p in legal.with_role(role)]


class MineChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.county}, {obj.code})"


class OpenForm(forms.Form):
    mine = MineChoice(label=_("mine"), queryset=None)
    source = forms.ChoiceField(label=_("source"), choices=PenaltyCase.Source.choices)
    inspection = forms.IntegerField(label=_("inspection (id)"), required=False, min_value=1)
    finding = forms.IntegerField(label=_("inspection finding (id)"), required=False, min_value=1)
    tipoff = forms.IntegerField(label=_("whistleblower report (id)"), required=False, min_value=1)
    accident = forms.IntegerField(label=_("accident (id)"), required=False, min_value=1)
    violation_type = forms.ChoiceField(label=_("violation type"), choices=())
    facts = forms.CharField(label=_("facts of the violation (违法事实)"), widget=forms.Textarea(attrs={"rows": 4}))
    legal_basis = forms.MultipleChoiceField(label=_("legal basis: provisions violated and applied"), choices=(),
                                            required=False, widget=forms.CheckboxSelectMultiple)
    opened_on = forms.DateField(label=_("opened on"), widget=DateInput(), required=False)

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines
        self.fields["violation_type"].choices = violation_choices()
        self.fields["legal_basis"].choices = provision_choices()


class EditForm(forms.Form):
    facts = forms.CharField(label=_("facts of the violation (违法事实)"), widget=forms.Textarea(attrs={"rows": 4}))
    legal_basis = forms.MultipleChoiceField(label=_("legal basis"), choices=(), required=False,
                                            widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["legal_basis"].choices = provision_choices()


class PersonFields(forms.Form):
    person_name = forms.CharField(label=_("main responsible person"), max_length=64, required=False)
    person_role = forms.CharField(label=_("post"), max_length=64, required=False)
    person_id_number = forms.CharField(label=_("resident ID number"), max_length=18, required=False)


class NotifyForm(PersonFields):
    circumstance = forms.ChoiceField(label=_("circumstances (情节)"), choices=())
    proposed_enterprise_fine = forms.DecimalField(label=_("intended fine on the enterprise (CNY)"), **MONEY)
    proposed_person_fine = forms.DecimalField(label=_("intended fine on the person (CNY)"), required=False, **MONEY)
    notified_on = forms.DateField(label=_("notified on"), widget=DateInput(), required=False)
    field_order = ["circumstance", "proposed_enterprise_fine", "proposed_person_fine", "person_name", "person_role",
                   "person_id_number", "notified_on"]

    def __init__(self, *args, violation=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["circumstance"].choices = level_choices(violation)


class ReplyForm(forms.Form):
    request_hearing = forms.BooleanField(label=_("the party requests a hearing (听证)"), required=False)
    statement = forms.CharField(label=_("statement and defence (陈述申辩)"), required=False,
                                widget=forms.Textarea(attrs={"rows": 3}))
    replied_on = forms.DateField(label=_("replied on"), widget=DateInput(), required=False)


class HearingForm(forms.Form):
    held_on = forms.DateField(label=_("held on"), widget=DateInput())
    note = forms.CharField(label=_("hearing record"), widget=forms.Textarea(attrs={"rows": 3}))


class DecideForm(PersonFields):
    circumstance = forms.ChoiceField(label=_("circumstances (情节)"), choices=())
    factors = forms.MultipleChoiceField(label=_("aggravating (↑) and mitigating (↓) factors"), choices=(),
                                        required=False, widget=forms.CheckboxSelectMultiple)
    enterprise_fine = forms.DecimalField(label=_("fine on the enterprise (CNY)"), **MONEY)
    person_fine = forms.DecimalField(label=_("fine on the main responsible person (CNY)"), required=False, **MONEY)
    person_annual_income = forms.DecimalField(label=_("person's income of last year (CNY, for accidents)"),
                                              required=False, **MONEY)
    person_exemption = forms.ChoiceField(label=_("provision exempting the person (if not fined)"), choices=(),
                                         required=False)
    person_exemption_note = forms.CharField(label=_("why the person is not liable"), required=False,
                                            widget=forms.Textarea(attrs={"rows": 2}))
    fine_reason = forms.CharField(label=_("reason for a fine outside the benchmark range"), required=False,
                                  widget=forms.Textarea(attrs={"rows": 2}))
    decided_on = forms.DateField(label=_("decided on"), widget=DateInput(), required=False)
    served_on = forms.DateField(label=_("served on (if already)"), widget=DateInput(), required=False)
    field_order = ["circumstance", "factors", "enterprise_fine", "person_name", "person_role", "person_id_number",
                   "person_fine", "person_annual_income", "person_exemption", "person_exemption_note", "fine_reason",
                   "decided_on", "served_on"]

    def __init__(self, *args, violation=None, bench=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["circumstance"].choices = level_choices(violation)
        self.fields["factors"].choices = factor_choices(bench) if bench else []
        self.fields["person_exemption"].choices = [("", "—")] + [
            (p["key"], legal.label(p)) for p in legal.with_role(legal.EXEMPTION)]


class ServeForm(forms.Form):
    served_on = forms.DateField(label=_("served on"), widget=DateInput())


class PaymentForm(forms.Form):
    target = forms.ChoiceField(label=_("fine"), choices=Payment.Target.choices)
    kind = forms.ChoiceField(label=_("kind"), choices=Payment.Kind.choices)
    amount = forms.DecimalField(label=_("amount (CNY)"), **MONEY)
    paid_on = forms.DateField(label=_("paid on"), widget=DateInput())
    receipt_ref = forms.CharField(label=_("receipt reference"), max_length=64)


class ChallengeForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=Challenge.Kind.choices)
    filed_on = forms.DateField(label=_("filed on"), widget=DateInput())
    body = forms.CharField(label=_("reconsideration body or court"), max_length=128, required=False)
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ConcludeChallengeForm(forms.Form):
    concluded_on = forms.DateField(label=_("concluded on"), widget=DateInput())
    outcome = forms.ChoiceField(label=_("outcome"), choices=Challenge.Outcome.choices)
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(forms.Form):
    note = forms.CharField(label=_("closing note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class WithdrawForm(forms.Form):
    reason = forms.CharField(label=_("reason for withdrawing"), widget=forms.Textarea(attrs={"rows": 2}))


class BenchmarkLevelForm(forms.Form):
    violation = forms.CharField(widget=forms.HiddenInput)
    level = forms.CharField(widget=forms.HiddenInput)
    enterprise_min = forms.DecimalField(label=_("enterprise from"), **MONEY)
    enterprise_max = forms.DecimalField(label=_("enterprise to"), **MONEY)
    person_min = forms.DecimalField(label=_("person from"), required=False, **MONEY)
    person_max = forms.DecimalField(label=_("person to"), required=False, **MONEY)
    double_penalty = forms.BooleanField(label=_("一案双罚"), required=False)
    note = forms.CharField(label=_("reason for the change"), max_length=500)
