"""Pages of the risk ranking (issue 9, part 5): every mine in the reader's scope by risk score, highest first,
filtered by county, type and band, each row with its top items; one mine's score explained item by item with
links to where the facts live; the ranking as xlsx or CSV. For officials only: the city (every mine) and the
counties (their own); the score shows signs of hidden production, so never the enterprise (403), and a mine
outside the reader's scope is 404. Thin: the scores are risk.py's."""

import datetime as dt
import io

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from openpyxl import Workbook

from minesafe.core.scoping import is_city
from minesafe.monitoring.exports import csv_response
from minesafe.registry.excel import XLSX_CONTENT_TYPE, safe_cell
from minesafe.registry.filters import county_choices
from minesafe.registry.models import Mine

from . import risk
from .views_common import query_without_page

PAGE_SIZE = 50
TOP_ITEMS = 3


def require_official(user) -> None:
    if not risk.may_read(user):
        raise PermissionDenied


def parse_as_of(params) -> dt.date:
    """?as_of=YYYY-MM-DD (not after today), else today."""
    today = timezone.localdate()
    try:
        day = dt.date.fromisoformat(params.get("as_of", ""))
    except ValueError:
        return today
    return min(day, today)


def ranking(user, params, as_of: dt.date) -> risk.Ranking:
    return risk.ranking(user, county=params.get("county", ""), mine_type=params.get("mine_type", ""),
                        band=params.get("band", ""), as_of=as_of)


def filter_context(user, params) -> dict:
    counties = county_choices() if is_city(user) else []
    return {"counties": counties, "types": Mine.Type.choices, "bands": list(reversed(risk.RiskBand.choices)),
            "county": params.get("county", ""), "mine_type": params.get("mine_type", ""),
            "band": params.get("band", ""), "as_of_param": params.get("as_of", "")}


@login_required
def risk_list(request):
    require_official(request.user)
    as_of = parse_as_of(request.GET)
    result = ranking(request.user, request.GET, as_of)
    page = Paginator(result.rows, PAGE_SIZE).get_page(request.GET.get("page"))
    start = page.start_index()
    entries = [{"rank": start + i, "mine": mine, "score": score, "top": score.top(TOP_ITEMS)}
               for i, (mine, score) in enumerate(page.object_list)]
    return render(request, "enforcement/risk_list.html", {
        "page": page, "entries": entries, "query": query_without_page(request), "as_of": as_of,
        "band_counts": [(b, risk.band_label(b), risk.BAND_COLOURS[b], n) for b, n in result.band_counts.items()],
        "total": len(result.rows), "version": risk.catalogue().get("version", ""), **filter_context(request.user,
                                                                                             request.GET)})


@login_required
def risk_detail(request, mine_id: int):
    require_official(request.user)
    mine = get_object_or_404(Mine.objects.visible_to(request.user).select_related("county", "enterprise"),
                             pk=mine_id)
    as_of = parse_as_of(request.GET)
    score = risk.score_of(mine, as_of)
    cat = risk.catalogue()
    edges = risk.bands(cat)
    extras = {kind: (risk.plan_extras(kind, cat) or {}).get(score.band, 0) for kind in ("county", "city")}
    return render(request, "enforcement/risk_detail.html", {
        "mine": mine, "score": score, "as_of": as_of, "extras": extras,
        "bands": [(code, risk.band_label(code), risk.BAND_COLOURS.get(code, "blue"), minimum)
                  for code, minimum in edges],
        "unscored": [label for code, label in risk.factor_labels() if code not in {i.code for i in score.items}]})


# Exports -----------------------------------------------------------------------------------------
def export_header() -> list[str]:
    return [_("Rank"), _("Mine code"), _("Mine"), _("County"), _("Type"), _("Status"), _("Risk score"),
            _("Band"), *[label for _code, label in risk.factor_labels()], _("Explanation")]


def export_rows(rows: list[tuple[Mine, risk.RiskScore]]) -> list[list]:
    codes = [code for code, _label in risk.factor_labels()]
    out = []
    for rank, (mine, score) in enumerate(rows, 1):
        points = {i.code: i.points for i in score.items}
        out.append([safe_cell(v) for v in (
            rank, mine.code, mine.name, str(mine.county), mine.get_mine_type_display(), mine.get_status_display(),
            score.total, score.band_label, *[points.get(c, 0) for c in codes],
            " | ".join(f"{i.label} {i.points}: {i.text}" for i in score.items))])
    return out


@login_required
def risk_export(request, fmt: str):
    require_official(request.user)
    as_of = parse_as_of(request.GET)
    # Built now, not while streaming: the labels and facts are in the request's language.
    header, body = export_header(), export_rows(ranking(request.user, request.GET, as_of).rows)
    name = f"mine-risk-{as_of.isoformat()}"
    if fmt == "csv":
        return csv_response(header, body, f"{name}.csv")
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(_("Risk ranking"))
    sheet.append(header)
    for row in body:
        sheet.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
    return response
