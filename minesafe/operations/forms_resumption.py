"""Forms of the resumption pages (field checks only; the rules live in resumption.py)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.registry.forms import DateInput


class ApplyForm(forms.Form):
    planned_resumption = forms.DateField(label=_("planned resumption"), widget=DateInput())
    statement = forms.CharField(label=_("statement of readiness"), max_length=4000,
                                widget=forms.Textarea(attrs={"rows": 4}))


class StartCheckForm(forms.Form):
    team = forms.CharField(label=_("acceptance team"), max_length=300)


class ItemForm(forms.Form):
    RESULTS = [("passed", _("Passed")), ("failed", _("Failed"))]
    item = forms.IntegerField(widget=forms.HiddenInput)
    result = forms.ChoiceField(label=_("result"), choices=RESULTS, widget=forms.RadioSelect)
    evidence = forms.CharField(label=_("evidence"), required=False, max_length=4000,
                               widget=forms.Textarea(attrs={"rows": 2}))
    reason = forms.CharField(label=_("reason for failure"), required=False, max_length=4000,
                             widget=forms.Textarea(attrs={"rows": 2}))


class DecideForm(forms.Form):
    note = forms.CharField(label=_("decision note"), required=False, max_length=4000,
                           widget=forms.Textarea(attrs={"rows": 2}))
