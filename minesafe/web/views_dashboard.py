"""The city and county dashboards and the duty room's large-screen mode (logic in dashboard.py)."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from minesafe.plan.views_kpis import present

from . import dashboard as board


def _context(request, screen: bool) -> dict:
    county = board.scope_for(request.user, request.GET.get("county", "").strip())
    data = board.build(request.user, county)
    return {"d": data, "county": county, "screen": screen, "basemap": board.basemap(),
            "kpi_rows": [present(value) for value in data.kpis],
            "bands": board.band_legend(), "county_choices": board.county_choices(request.user)}


@login_required
@require_GET
def dashboard(request):
    return render(request, "web/dashboard.html", _context(request, screen=False))


@login_required
@require_GET
def dashboard_screen(request):
    """Large-screen mode: no navigation, large type, the panels refresh themselves every minute."""
    return render(request, "web/dashboard_screen.html", _context(request, screen=True))


@login_required
@require_GET
def dashboard_panels(request):
    """The panels alone, for the page's periodic refresh."""
    context = _context(request, screen=request.GET.get("screen") == "1")
    return render(request, "web/_dashboard_panels.html", context)


@login_required
@require_GET
def dashboard_mines(request):
    county = board.scope_for(request.user, request.GET.get("county", "").strip())
    return JsonResponse(board.mine_points(request.user, county), json_dumps_params={"ensure_ascii": False})
