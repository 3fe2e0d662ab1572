from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from minesafe.core.models import Region
from minesafe.core.validators import validate_credit_code

from . import services
from .models import Mine

TYPE_FIELDS = {
    Mine.Type.UNDERGROUND: {"design_capacity", "scale_class", "people_underground", "watch_headcount",
                            "intelligent_level"},
    Mine.Type.OPEN_PIT: {"design_capacity", "scale_class", "slope_height", "intelligent_level"},
    Mine.Type.QUARRY: {"design_capacity", "scale_class", "slope_height"},
    Mine.Type.PROCESSING_PLANT: {"design_capacity", "scale_class"},
    Mine.Type.TAILINGS_POND: services.TAILINGS_ONLY,
}
COMMON_FIELDS = ["name", "mineral", "address", "longitude", "latitude", "licence_no", "licence_expiry",
                 "standard_grade", "standard_date"]


def fields_for(mine_type: str, user, mine: Mine | None = None) -> list[str]:
    """The ledger fields that apply to this type of mine and that this user may change."""
    wanted = set(COMMON_FIELDS) | TYPE_FIELDS.get(mine_type, set())
    names = [f for f in services.MINE_FIELDS if f in wanted]
    if mine is not None and not services.can_manage_mine(user, mine):
        names = [f for f in names if f in services.ENTERPRISE_EDITABLE]
    return names


class DateInput(forms.DateInput):
    input_type = "date"


class MineForm(forms.ModelForm):
    """Field-level checks only; services.update_mine applies permissions and the cross-field rules."""

    class Meta:
        model = Mine
        fields = services.MINE_FIELDS
        widgets = {"licence_expiry": DateInput(), "standard_date": DateInput()}

    def __init__(self, *args, field_names: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in field_names:
                del self.fields[name]


class MineCreateForm(MineForm):
    code = forms.CharField(label=_("registry number"), max_length=32)
    county = forms.ModelChoiceField(label=_("county"), queryset=Region.objects.exclude(kind=Region.Kind.CITY))
    enterprise_name = forms.CharField(label=_("enterprise name"), max_length=128)
    credit_code = forms.CharField(label=_("unified social credit code"), max_length=18,
                                  validators=[validate_credit_code])
    status = forms.ChoiceField(label=_("status"), choices=Mine.Status.choices)
    status_since = forms.DateField(label=_("status since"), widget=DateInput(), required=False)

    field_order = ["code", "name", "mine_type", "county", "enterprise_name", "credit_code", "status", "status_since"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, field_names=[*services.MINE_FIELDS, *self.registration_fields], **kwargs)

    registration_fields = ["code", "county", "enterprise_name", "credit_code", "status", "status_since"]


class StatusChangeForm(forms.Form):
    status = forms.ChoiceField(label=_("new status"))
    reason = forms.CharField(label=_("reason"), max_length=200)
    effective_date = forms.DateField(label=_("effective date"), widget=DateInput(), required=False)

    def __init__(self, *args, allowed: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(s, Mine.Status(s).label) for s in allowed]


class MonthInput(forms.DateInput):
    input_type = "month"
    format = "%Y-%m"


class LedgerForm(forms.Form):
    period = forms.DateField(label=_("month"), input_formats=["%Y-%m"], widget=MonthInput())
    people_underground = forms.IntegerField(label=_("people underground"), min_value=0, required=False)
    output = forms.DecimalField(label=_("output this month (10k t)"), min_value=0, max_digits=10,
                                decimal_places=2, required=False)
    note = forms.CharField(label=_("what changed this month"), max_length=500, required=False,
                           widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, mine: Mine, **kwargs):
        super().__init__(*args, **kwargs)
        if mine.mine_type != Mine.Type.UNDERGROUND:
            del self.fields["people_underground"]
        if not self.is_bound:
            self.initial["period"] = services.add_months(timezone.localdate().replace(day=1), -1)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("filled ledger workbook (.xlsx)"))
