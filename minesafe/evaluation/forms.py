from django import forms
from django.utils.translation import gettext_lazy as _

from . import scoring
from .models import Decision


def manual_item_choices() -> list[tuple[str, str]]:
    return [(i["code"], f"{scoring.label(i)} (≤ {i['max']:g})") for i in scoring.manual_items(scoring.catalogue())]


class EmptyForm(forms.Form):
    pass


class ManualScoreForm(forms.Form):
    item = forms.ChoiceField(label=_("item"))
    score = forms.DecimalField(label=_("score"), min_value=0, max_digits=5, decimal_places=2)
    reason = forms.CharField(label=_("reason"), max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = manual_item_choices()


class ObjectionForm(forms.Form):
    reason = forms.CharField(label=_("reason for the objection"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 3}))


class AnswerForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"), choices=Decision.choices)
    item = forms.ChoiceField(label=_("item to adjust"), required=False)
    score = forms.DecimalField(label=_("new score"), required=False, min_value=0, max_digits=5, decimal_places=2)
    reason = forms.CharField(label=_("reason for the answer"), max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [("", "—"), *manual_item_choices()]
