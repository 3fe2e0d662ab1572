"""The form to generate a formal report: the report, the period and the scope (a county sees only its own)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from minesafe.core.scoping import is_city
from minesafe.evaluation.services import evaluated_counties

from .models import FormalReport


class FormalReportForm(forms.Form):
    kind = forms.ChoiceField(label=_("report"), choices=FormalReport.Kind.choices)
    period = forms.CharField(label=_("period"), max_length=10, help_text=_(
        "a month for the monthly statistics (2026-10), a quarter for the assessment (2026-Q3), a half year for the "
        "notice (2026-H1), a year for the summary (2026)"))
    county = forms.ChoiceField(label=_("scope"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        if is_city(user):
            choices = [("", _("Whole city"))] + [(c.code, f"{c} ({c.code})") for c in evaluated_counties()]
        else:
            region = user.organisation.region
            choices = [(region.code, f"{region} ({region.code})")]
        self.fields["county"].choices = choices
