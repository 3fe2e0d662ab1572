"""Forms of the officers' pages; every change goes through services.py."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import User
from minesafe.registry.forms import DateInput

from . import services
from .models import Officer, OfficerTraining


def speciality_choices():
    return [("", "—")] + list(services.specialities().items())


class OfficerForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("body"), queryset=None)
    name = forms.CharField(label=_("name"), max_length=64)
    kind = forms.ChoiceField(label=_("kind"), choices=Officer.Kind.choices)
    post = forms.CharField(label=_("post"), max_length=64, required=False)
    speciality = forms.ChoiceField(label=_("speciality"), required=False)
    certificate_no = forms.CharField(label=_("law-enforcement certificate (执法证) number"), max_length=32,
                                     required=False)
    certificate_expiry = forms.DateField(label=_("certificate valid until"), required=False, widget=DateInput())
    registered_safety_engineer = forms.BooleanField(label=_("registered safety engineer"), required=False)
    joined_on = forms.DateField(label=_("joined on"), widget=DateInput())

    def __init__(self, *args, bodies=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = bodies
        self.fields["speciality"].choices = speciality_choices()


class EditOfficerForm(forms.Form):
    name = forms.CharField(label=_("name"), max_length=64)
    post = forms.CharField(label=_("post"), max_length=64, required=False)
    speciality = forms.ChoiceField(label=_("speciality"), required=False)
    certificate_no = forms.CharField(label=_("law-enforcement certificate (执法证) number"), max_length=32,
                                     required=False)
    certificate_expiry = forms.DateField(label=_("certificate valid until"), required=False, widget=DateInput())
    registered_safety_engineer = forms.BooleanField(label=_("registered safety engineer"), required=False)
    user = forms.ModelChoiceField(label=_("login"), queryset=None, required=False)

    def __init__(self, *args, officer: Officer, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["speciality"].choices = speciality_choices()
        self.fields["user"].queryset = User.objects.filter(organisation=officer.organisation, is_active=True)


class LeftForm(forms.Form):
    left_on = forms.DateField(label=_("left on"), widget=DateInput())
    reason = forms.CharField(label=_("reason"), max_length=200)


class TrainingForm(forms.Form):
    officers = forms.ModelMultipleChoiceField(label=_("officers who attended"), queryset=None,
                                              widget=forms.CheckboxSelectMultiple)
    failed = forms.ModelMultipleChoiceField(label=_("did not pass the assessment"), queryset=None, required=False,
                                            widget=forms.CheckboxSelectMultiple)
    course = forms.CharField(label=_("course"), max_length=128)
    kind = forms.ChoiceField(label=_("kind"), choices=OfficerTraining.Kind.choices)
    provider = forms.CharField(label=_("provider"), max_length=128)
    start_on = forms.DateField(label=_("from"), widget=DateInput())
    end_on = forms.DateField(label=_("to"), widget=DateInput())
    hours = forms.DecimalField(label=_("hours"), max_digits=5, decimal_places=1)

    def __init__(self, *args, officers=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["officers"].queryset = officers
        self.fields["failed"].queryset = officers
