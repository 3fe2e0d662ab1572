"""Forms of the plan pages. Figures are typed one per line as "label: value" (also with a full-width colon)."""

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.registry.forms import DateInput


def parse_figures(text: str) -> list[dict]:
    """'检查矿山: 12' lines -> [{"label": "检查矿山", "value": "12"}]; a line without a colon keeps an empty value
    (the service then says what is wrong with it)."""
    rows = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        label, _sep, value = line.replace("：", ":").rpartition(":")
        rows.append({"label": label.strip(), "value": value.strip()} if _sep else {"label": line, "value": ""})
    return rows


class ReportForm(forms.Form):
    period_start = forms.TypedChoiceField(label=_("period"), coerce=dt.date.fromisoformat)
    summary = forms.CharField(label=_("summary of the period's work"), widget=forms.Textarea(attrs={"rows": 4}))

    def __init__(self, *args, periods=(), tasks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["period_start"].choices = [(p.start.isoformat(), p.label) for p in periods]
        self.tasks = list(tasks)
        for task in self.tasks:
            self.fields[f"task_{task.number}"] = forms.CharField(
                label=f"{task.number}. {task.title_zh}", required=False, widget=forms.Textarea(attrs={"rows": 2}))
            self.fields[f"figures_{task.number}"] = forms.CharField(
                label=_("figures (one per line, label: value)"), required=False,
                widget=forms.Textarea(attrs={"rows": 2, "placeholder": "检查矿山: 12"}))

    def entries(self) -> dict:
        data = self.cleaned_data
        return {t.number: {"text": data.get(f"task_{t.number}", ""),
                           "figures": parse_figures(data.get(f"figures_{t.number}", ""))} for t in self.tasks}

    def task_rows(self):
        return [(t, self[f"task_{t.number}"], self[f"figures_{t.number}"]) for t in self.tasks]


class ReviewForm(forms.Form):
    decision = forms.ChoiceField(label=_("decision"),
                                 choices=[("accept", _("accept")), ("return", _("return for revision"))])
    note = forms.CharField(label=_("note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class CompleteForm(forms.Form):
    completed_on = forms.DateField(label=_("completed on"), widget=DateInput())
    note = forms.CharField(label=_("what was completed"), widget=forms.Textarea(attrs={"rows": 2}))


class CountyTaskForm(forms.Form):
    title = forms.CharField(label=_("title"), max_length=200)
    description = forms.CharField(label=_("description"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    deadline = forms.DateField(label=_("deadline"), widget=DateInput())


class CountyTaskDoneForm(forms.Form):
    county_task = forms.IntegerField(widget=forms.HiddenInput)
    done_on = forms.DateField(label=_("done on"), widget=DateInput())
    note = forms.CharField(label=_("what was done"))
