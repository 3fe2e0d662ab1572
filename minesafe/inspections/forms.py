"""Forms of the inspection pages; validation of substance is in services.py (the forms only parse)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Organisation, User
from minesafe.hazards.models import HazardItem
from minesafe.registry.models import Mine

from . import checklists, documents, services
from .models import Document, InspectionItem, Method, Signature


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(**kwargs)


class StartForm(forms.Form):
    mine = forms.ModelChoiceField(label=_("mine"), queryset=Mine.objects.none())
    inspected_on = forms.DateField(label=_("date of the visit"), widget=DateInput())
    method = forms.ChoiceField(label=_("method"), choices=Method.choices)
    organisation = forms.ModelChoiceField(label=_("inspecting body"), queryset=Organisation.objects.none(),
                                          required=False, help_text=_("the city may assign another county's team "
                                                                      "(cross-county enforcement)"))
    lead_inspector = forms.ModelChoiceField(label=_("lead inspector"), queryset=User.objects.none(), required=False,
                                            help_text=_("you, unless you name an officer of the inspecting body"))
    team = forms.CharField(label=_("other inspectors"), max_length=200, required=False)

    def __init__(self, *args, user, mines, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["mine"].queryset = mines
        self.fields["organisation"].queryset = services.organisations_for(user)
        self.fields["lead_inspector"].queryset = User.objects.filter(
            is_active=True, role__in=services.OFFICER_ROLES,
            organisation__in=services.organisations_for(user)).order_by("organisation", "username")
        if not services.is_city(user):
            del self.fields["organisation"]


class ResultForm(forms.Form):
    result = forms.ChoiceField(label=_("result"), choices=InspectionItem.Result.choices, widget=forms.RadioSelect)
    note = forms.CharField(label=_("note (what was found)"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    deadline = forms.DateField(label=_("rectification deadline"), required=False, widget=DateInput())


class DetailsForm(forms.Form):
    summary = forms.CharField(label=_("summary"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    team = forms.CharField(label=_("other inspectors"), max_length=200, required=False)


class FindingForm(forms.Form):
    description = forms.CharField(label=_("what was found"), widget=forms.Textarea(attrs={"rows": 2}))
    deadline = forms.DateField(label=_("rectification deadline"), widget=DateInput())
    major = forms.BooleanField(label=_("major hazard (重大事故隐患)"), required=False)
    hazard_item = forms.ModelChoiceField(label=_("item of the standard (for a major hazard)"),
                                         queryset=HazardItem.objects.none(), required=False)

    def __init__(self, *args, mine_type: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hazard_item"].queryset = checklists.hazard_items_for(mine_type)


class PhotoForm(forms.Form):
    file = forms.FileField(label=_("photo"), widget=forms.ClearableFileInput(attrs={
        "accept": "image/jpeg,image/png,image/webp", "capture": "environment"}))
    caption = forms.CharField(label=_("caption"), max_length=200, required=False)
    finding = forms.TypedChoiceField(label=_("of the finding"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, findings=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["finding"].choices = [("", _("the visit in general"))] + [
            (f.pk, f.description[:60]) for f in findings]


class LeadSignatureForm(forms.Form):
    image = forms.CharField(widget=forms.HiddenInput(attrs={"data-signature": "1"}), required=False)


class EnterpriseSignatureForm(forms.Form):
    signer_name = forms.CharField(label=_("representative's name"), max_length=64)
    image = forms.CharField(widget=forms.HiddenInput(attrs={"data-signature": "1"}), required=False)
    refused = forms.BooleanField(label=_("refused to sign"), required=False)
    refusal_reason = forms.CharField(label=_("reason given"), max_length=300, required=False)
    witness_name = forms.CharField(label=_("witness (for a refusal)"), max_length=64, required=False)


class EmptyForm(forms.Form):
    pass


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("reason"), widget=forms.Textarea(attrs={"rows": 2}))


class AddendumForm(forms.Form):
    text = forms.CharField(label=_("addendum"), widget=forms.Textarea(attrs={"rows": 3}))


class DocumentForm(forms.Form):
    kind = forms.ChoiceField(label=_("document"), choices=Document.Kind.choices)
    measures = forms.MultipleChoiceField(label=_("measures (on-site decision)"), required=False,
                                         widget=forms.CheckboxSelectMultiple)
    details = forms.CharField(label=_("details (on-site decision)"), required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["measures"].choices = documents.measure_choices()


class RectifiedForm(forms.Form):
    finding = forms.IntegerField(widget=forms.HiddenInput())
    note = forms.CharField(label=_("how it was checked"), max_length=500)


class WithdrawFindingForm(forms.Form):
    finding = forms.IntegerField(widget=forms.HiddenInput())


class SignatureRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Signature.Role.choices)


class TemplateItemForm(forms.Form):
    text = forms.CharField(label=_("what to check"), max_length=300)
    guidance = forms.CharField(label=_("guidance"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    hazard_item = forms.ModelChoiceField(label=_("item of the standard (a major-hazard item)"),
                                         queryset=HazardItem.objects.none(), required=False)
    code = forms.CharField(label=_("item code (free items)"), max_length=16, required=False)

    def __init__(self, *args, mine_type: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["hazard_item"].queryset = checklists.hazard_items_for(mine_type)


class TemplateEditForm(forms.Form):
    item = forms.IntegerField(widget=forms.HiddenInput())
    text = forms.CharField(label=_("what to check"), max_length=300, required=False)
    guidance = forms.CharField(label=_("guidance"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ExamForm(forms.Form):
    """The drawn questions of an exam at the inspection (the inspection is recorded by the service)."""

    token = forms.CharField(widget=forms.HiddenInput())

    def __init__(self, *args, questions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.questions = list(questions)
        for number, question in enumerate(self.questions, 1):
            self.fields[f"q{question.pk}"] = forms.ChoiceField(
                label=f"{number}. {question.text}", required=False, widget=forms.RadioSelect,
                choices=[(o["key"], f"{o['key']}. {o['text']}") for o in question.options])

    def answers(self) -> dict[int, str]:
        return {q.pk: self.cleaned_data.get(f"q{q.pk}") or "" for q in self.questions}

    def question_fields(self):
        return [self[f"q{q.pk}"] for q in self.questions]
