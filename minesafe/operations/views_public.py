"""The public list of suspended and construction-halted mines (no login): a page, a CSV and an RSS feed.

Only the catalogue's `public_list.fields` are shown, and only those this module knows how to render
(`COLUMNS`): a field added to the catalogue that is not here is never published by accident."""

import datetime as dt
from urllib.parse import quote

from django.contrib.syndication.views import Feed
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from minesafe.monitoring.exports import csv_response
from minesafe.registry.filters import county_choices

from . import suspension
from .common import catalogue


def _reported(mine) -> str:
    return timezone.localdate(mine.reported_at).isoformat() if mine.reported_at else ""


# field code -> (heading, value of one mine from suspension.public_mines())
COLUMNS = {
    "mine": (_lazy("Mine"), lambda m: m.name),
    "enterprise": (_lazy("Enterprise"), lambda m: m.enterprise.name),
    "county": (_lazy("County"), lambda m: m.county.name_zh),
    "mine_type": (_lazy("Type"), lambda m: str(m.get_mine_type_display())),
    "mineral": (_lazy("Mineral"), lambda m: m.mineral),
    "status": (_lazy("Status"), lambda m: str(m.get_status_display())),
    "since": (_lazy("Since"), lambda m: m.status_since.isoformat() if m.status_since else ""),
    "reported_to_city": (_lazy("Reported to the city"), _reported),
}
MAX_ECHO = 64  # a refused field name is quoted back at most this long


def public_fields() -> list[str]:
    return [name for name in catalogue()["public_list"]["fields"] if name in COLUMNS]


def rows(mines, fields: list[str]) -> list[list[str]]:
    return [[COLUMNS[name][1](mine) for name in fields] for mine in mines]


def anchor(mine) -> str:
    return f"{mine.name}-{mine.status_since.isoformat() if mine.status_since else ''}"


def public_list(request):
    """The page: every suspended or construction-halted mine, public fields only."""
    county = request.GET.get("county", "")
    fields = public_fields()
    mines = suspension.public_mines(county)
    page = Paginator(mines, 200).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    show_anchor = "mine" in fields
    return render(request, "operations/public_suspended.html", {
        "headings": [COLUMNS[name][0] for name in fields],
        "rows": [(anchor(m) if show_anchor else "", row) for m, row in zip(shown, rows(shown, fields), strict=True)],
        "page": page, "count": page.paginator.count, "county": county, "counties": county_choices(),
        "query": f"county={quote(county)}" if county else "", "today": timezone.localdate()})


def refused(reason: str) -> HttpResponse:
    return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")


def public_csv(request):
    """The CSV; ?fields=a,b picks public fields in that order. Anything else is refused (400) with the reason."""
    allowed = public_fields()
    raw = request.GET.get("fields")
    if raw is None:
        fields = allowed
    else:
        fields = [name.strip() for name in raw.split(",")]
        for name in fields:
            if not name:
                return refused(_("name at least one field, separated by commas; public fields: %(p)s") % {
                    "p": ",".join(allowed)})
            if name not in allowed:
                return refused(_("field \"%(f)s\" is not public; public fields: %(p)s") % {
                    "f": name[:MAX_ECHO], "p": ",".join(allowed)})
        duplicated = next((name for i, name in enumerate(fields) if name in fields[:i]), None)
        if duplicated:
            return refused(_("field \"%(f)s\" is asked for twice") % {"f": duplicated})
    mines = suspension.public_mines(request.GET.get("county", ""))
    return csv_response(fields, rows(mines, fields), "suspended-mines.csv")


class SuspendedFeed(Feed):
    """RSS: one item per stop (a mine suspended again later is a new item)."""

    def title(self):
        return _("Suspended and construction-halted mines (public list)")

    def description(self):
        return _("Non-coal mines in Chengde whose production or construction is stopped, for public supervision.")

    def link(self):
        return reverse("operations:public-suspended")

    def items(self):
        fields = public_fields()
        mines = list(suspension.public_mines().order_by("-status_since", "name"))
        return [(mine, dict(zip(fields, row, strict=True))) for mine, row in zip(mines, rows(mines, fields),
                                                                                   strict=True)]

    def item_title(self, item):
        _mine, values = item
        parts = [values[name] for name in ("mine", "status") if name in values]
        return " · ".join(parts) or _("Suspended mine")

    def item_description(self, item):
        _mine, values = item
        return "; ".join(f"{COLUMNS[name][0]}: {value or '—'}" for name, value in values.items())

    def item_link(self, item):
        mine, values = item
        link = reverse("operations:public-suspended")
        return f"{link}#{quote(anchor(mine))}" if "mine" in values else link

    def item_guid(self, item):
        _mine, values = item
        return "|".join(values.get(name, "") for name in ("mine", "county", "status", "since"))

    item_guid_is_permalink = False

    def item_pubdate(self, item):
        mine, values = item
        if "since" not in values or not mine.status_since:
            return None
        return timezone.make_aware(dt.datetime.combine(mine.status_since, dt.time()))
