"""Forms of the public report page and of the officers' step forms."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.core.services import county_regions
from minesafe.registry.forms import DateInput
from minesafe.registry.models import Mine

from . import services
from .models import Reward, Tipoff


class MineChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} ({obj.county})"


class ReportForm(forms.Form):
    """The public form. `website` is a honeypot (hidden from people; bots fill it); `started` is the signed
    render time."""

    county = forms.ModelChoiceField(label=_("county"), queryset=None)
    mine = MineChoice(label=_("mine (if you know it)"), queryset=None, required=False)
    place = forms.CharField(label=_("place (if the mine is not listed)"), max_length=200, required=False)
    category = forms.ChoiceField(label=_("what you report"), choices=Tipoff.Category.choices)
    description = forms.CharField(label=_("description"), max_length=services.DESCRIPTION_MAX,
                                  widget=forms.Textarea(attrs={"rows": 6}))
    anonymous = forms.BooleanField(label=_("report anonymously"), required=False, initial=True)
    contact_name = forms.CharField(label=_("your name"), max_length=64, required=False)
    contact_phone = forms.CharField(label=_("your phone"), max_length=32, required=False)
    website = forms.CharField(label=_("leave this field empty"), required=False,
                              widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}))
    started = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = county_regions().filter(statistical_only=False)
        self.fields["mine"].queryset = Mine.objects.exclude(status=Mine.Status.CLOSED) \
            .select_related("county").order_by("county__code", "name")


class TrackForm(forms.Form):
    code = forms.CharField(label=_("tracking code"), max_length=64,
                           widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}))


class EmptyForm(forms.Form):
    pass


class RejectForm(forms.Form):
    reason = forms.CharField(label=_("reason for not accepting"), widget=forms.Textarea(attrs={"rows": 2}))


class VerifyForm(forms.Form):
    substantiated = forms.TypedChoiceField(label=_("result"), coerce=lambda v: v == "yes",
                                           choices=[("yes", _("substantiated")), ("no", _("not substantiated"))])
    findings = forms.CharField(label=_("findings"), widget=forms.Textarea(attrs={"rows": 3}))


class HandleForm(forms.Form):
    action_taken = forms.CharField(label=_("action taken"), widget=forms.Textarea(attrs={"rows": 3}))
    hazard_item = forms.ModelChoiceField(label=_("open a major hazard under item"), queryset=None, required=False)
    hazard_description = forms.CharField(label=_("hazard description"), required=False,
                                         widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, items=None, **kwargs):
        super().__init__(*args, **kwargs)
        if items is None:
            del self.fields["hazard_item"], self.fields["hazard_description"]
        else:
            self.fields["hazard_item"].queryset = items


class FeedbackForm(forms.Form):
    feedback = forms.CharField(label=_("feedback to the reporter (shown with the tracking code)"),
                               widget=forms.Textarea(attrs={"rows": 3}))


class ReassignForm(forms.Form):
    county = forms.ModelChoiceField(label=_("county"), queryset=None)
    note = forms.CharField(label=_("note"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["county"].queryset = county_regions().filter(statistical_only=False)


class ProposeRewardForm(forms.Form):
    severity = forms.ChoiceField(label=_("severity"), choices=Reward.Severity.choices)


class RefuseRewardForm(forms.Form):
    reason = forms.CharField(label=_("reason for refusal"), widget=forms.Textarea(attrs={"rows": 2}))


class PayRewardForm(forms.Form):
    paid_on = forms.DateField(label=_("paid on"), widget=DateInput())
    payment_ref = forms.CharField(label=_("payment reference"), max_length=64)
