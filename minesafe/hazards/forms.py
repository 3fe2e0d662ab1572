from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.registry.forms import DateInput, MonthInput
from minesafe.registry.models import Mine

from .models import Hazard, HazardAttachment, HazardItem


class ReportForm(forms.Form):
    mine = forms.ModelChoiceField(label=_("mine"), queryset=Mine.objects.none())
    item = forms.ModelChoiceField(label=_("standard item"), queryset=HazardItem.objects.none())
    source = forms.ChoiceField(label=_("source"), choices=Hazard.Source.choices)
    found_on = forms.DateField(label=_("date found"), widget=DateInput())
    finder_name = forms.CharField(label=_("found by"), max_length=64, required=False)
    description = forms.CharField(label=_("description"), widget=forms.Textarea(attrs={"rows": 3}))
    responsible_person = forms.CharField(label=_("responsible person"), max_length=64, required=False)
    measures = forms.CharField(label=_("rectification measures"), required=False,
                               widget=forms.Textarea(attrs={"rows": 2}))
    funds = forms.DecimalField(label=_("funds (10k yuan)"), max_digits=10, decimal_places=2, required=False)
    deadline = forms.DateField(label=_("rectification deadline"), widget=DateInput(), required=False)
    emergency_plan = forms.CharField(label=_("emergency plan meanwhile"), required=False,
                                     widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines.exclude(status=Mine.Status.CLOSED).order_by("county__code", "name")
        self.fields["item"].queryset = HazardItem.objects.filter(catalogue__active=True).order_by("code")


class PlanForm(forms.ModelForm):
    class Meta:
        model = Hazard
        fields = ["responsible_person", "measures", "funds", "deadline", "emergency_plan"]
        widgets = {"deadline": DateInput(), "measures": forms.Textarea(attrs={"rows": 2}),
                   "emergency_plan": forms.Textarea(attrs={"rows": 2})}


class TransitionForm(forms.Form):
    status = forms.ChoiceField(label=_("next step"))
    reason = forms.CharField(label=_("reason"), max_length=500)

    def __init__(self, *args, allowed: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, Hazard.Status(s).label) for s in allowed]


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("kind"), choices=HazardAttachment.Kind.choices)
    file = forms.FileField(label=_("file (jpg, png, pdf, docx, xlsx; at most 10 MB)"))


class ExtensionForm(forms.Form):
    new_deadline = forms.DateField(label=_("requested deadline"), widget=DateInput())
    reason = forms.CharField(label=_("reason"), max_length=500)


class DecisionForm(forms.Form):
    approve = forms.TypedChoiceField(label=_("decision"), coerce=lambda v: v == "1",
                                     choices=[("1", _("approve")), ("0", _("reject"))])
    note = forms.CharField(label=_("note"), max_length=500, required=False)


class SelfCheckForm(forms.Form):
    mine = forms.ModelChoiceField(label=_("mine"), queryset=Mine.objects.none())
    period = forms.DateField(label=_("month"), input_formats=["%Y-%m"], widget=MonthInput())
    hazards_found = forms.IntegerField(label=_("major hazards found"), min_value=0, initial=0)
    led_by = forms.CharField(label=_("led by (principal head)"), max_length=64)
    note = forms.CharField(label=_("note"), max_length=500, required=False)

    def __init__(self, *args, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines.filter(status=Mine.Status.PRODUCING).order_by("name")


class ConcludeForm(forms.Form):
    team = forms.CharField(label=_("investigation team"), max_length=200)
    cause = forms.CharField(label=_("cause"), widget=forms.Textarea(attrs={"rows": 2}))
    responsibility = forms.CharField(label=_("responsibility"), widget=forms.Textarea(attrs={"rows": 2}))
    accountability_proposal = forms.CharField(label=_("accountability proposal"),
                                              widget=forms.Textarea(attrs={"rows": 2}))
    propose_closure = forms.BooleanField(label=_("propose closing the mine (提请关闭)"), required=False)
    parent_company_note = forms.CharField(label=_("parent company's responsibility"), max_length=300,
                                          required=False)
