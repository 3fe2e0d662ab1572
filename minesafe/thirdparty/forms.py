"""Forms of the third-party pages. Field checks only: the services apply permissions and the domain rules."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine

from .models import CaseAction, Check, FalsifiedItem, Firm, Qualification, ServiceKind


class EmptyForm(forms.Form):
    pass


class MineChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.county})"


class MinesChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.county})"


class FirmChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.name


class FirmForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=128)
    credit_code = forms.CharField(label=_("unified social credit code"), max_length=18)
    kinds = forms.MultipleChoiceField(label=_("kinds of service"), choices=ServiceKind.choices,
                                      widget=forms.CheckboxSelectMultiple)
    address = forms.CharField(label=_("address"), max_length=200, required=False)
    contact_person = forms.CharField(label=_("contact person"), max_length=64, required=False)
    contact_phone = forms.CharField(label=_("contact phone"), max_length=32, required=False)
    note = forms.CharField(label=_("internal note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class QualificationForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind of service"))
    certificate_number = forms.CharField(label=_("certificate number"), max_length=64)
    issuing_authority = forms.CharField(label=_("issuing authority"), max_length=128)
    scope = forms.CharField(label=_("scope"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    valid_from = forms.DateField(label=_("valid from"), widget=DateInput())
    valid_to = forms.DateField(label=_("valid to"), widget=DateInput())
    replaces = forms.ModelChoiceField(label=_("renews certificate"), queryset=Qualification.objects.none(),
                                      required=False)

    def __init__(self, *args, firm: Firm, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [(k, ServiceKind(k).label) for k in firm.kinds]
        self.fields["replaces"].queryset = firm.qualifications.filter(revoked_on__isnull=True).order_by("kind",
                                                                                                       "-valid_to")


class RevokeForm(forms.Form):
    revoked_on = forms.DateField(label=_("revoked on"), widget=DateInput())
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))


class BlacklistForm(ReasonForm):
    notice = forms.CharField(label=_("notice shown on the public blacklist"), max_length=500,
                             widget=forms.Textarea(attrs={"rows": 2}))


class EngagementForm(forms.Form):
    mine = MineChoice(label=_("mine"), queryset=Mine.objects.none())
    firm = FirmChoice(label=_("firm"), queryset=Firm.objects.none())
    kind = forms.ChoiceField(label=_("service"), choices=ServiceKind.choices)
    engaged_on = forms.DateField(label=_("engaged on"), widget=DateInput())
    report_title = forms.CharField(label=_("report or deliverable"), max_length=200)
    report_number = forms.CharField(label=_("report number"), max_length=64, required=False)
    report_date = forms.DateField(label=_("report date"), widget=DateInput(), required=False)
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, mines, firms, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines
        self.fields["firm"].queryset = firms


class CheckForm(forms.Form):
    checked_on = forms.DateField(label=_("checked on"), widget=DateInput())
    checkers = forms.CharField(label=_("checked by"), max_length=200)
    result = forms.ChoiceField(label=_("result"), choices=Check.Result.choices)
    findings = forms.CharField(label=_("findings"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    follow_up_due = forms.DateField(label=_("follow-up due (empty: the catalogue's default)"), widget=DateInput(),
                                    required=False)


class FollowUpForm(forms.Form):
    followed_up_on = forms.DateField(label=_("followed up on"), widget=DateInput())
    note = forms.CharField(label=_("what was done"), widget=forms.Textarea(attrs={"rows": 2}))


class CaseForm(forms.Form):
    """A case from a report (举报 or a referral); a case from a check is opened on the check's page."""

    firm = FirmChoice(label=_("firm"), queryset=Firm.objects.none())
    source_reference = forms.CharField(label=_("report (number, date or sender)"), max_length=200)
    falsified = forms.MultipleChoiceField(label=_("what was falsified"), choices=FalsifiedItem.choices,
                                          widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(label=_("description"), widget=forms.Textarea(attrs={"rows": 3}))
    mines = MinesChoice(label=_("mines affected"), queryset=Mine.objects.none(), required=False)
    opened_on = forms.DateField(label=_("opened on"), widget=DateInput())

    def __init__(self, *args, firms, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["firm"].queryset = firms
        self.fields["mines"].queryset = mines


class CaseFromCheckForm(forms.Form):
    falsified = forms.MultipleChoiceField(label=_("what was falsified"), choices=FalsifiedItem.choices,
                                          widget=forms.CheckboxSelectMultiple)
    description = forms.CharField(label=_("description"), widget=forms.Textarea(attrs={"rows": 3}))


class AddMinesForm(forms.Form):
    mines = MinesChoice(label=_("mines affected"), queryset=Mine.objects.none())

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mines"].queryset = mines


class ConfirmForm(forms.Form):
    findings = forms.CharField(label=_("findings"), widget=forms.Textarea(attrs={"rows": 3}))
    confirmed_on = forms.DateField(label=_("confirmed on"), widget=DateInput())


class CloseCaseForm(forms.Form):
    actions = forms.MultipleChoiceField(label=_("actions"), choices=CaseAction.choices,
                                        widget=forms.CheckboxSelectMultiple)
    decision = forms.CharField(label=_("decision"), widget=forms.Textarea(attrs={"rows": 3}))
    decided_on = forms.DateField(label=_("decided on"), widget=DateInput())
    public_summary = forms.CharField(label=_("notice for the public blacklist (with a blacklist)"), max_length=500,
                                     required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, city: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not city:  # a county refers suspension and blacklisting to the city
            self.fields["actions"].choices = [(v, label) for v, label in CaseAction.choices
                                              if v not in (CaseAction.SUSPENSION, CaseAction.BLACKLIST)]
            del self.fields["public_summary"]

