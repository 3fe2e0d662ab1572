"""The operations hub: what is suspended, reported, applied for and decided, in the user's scope."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from minesafe.registry.models import Mine

from .models import DisposalDecision, Offence, PondClosurePlan, ResumptionApplication, SuspensionReport

SUSPENDED = (Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED)


@login_required
def index(request):
    user, today = request.user, timezone.localdate()
    mines = Mine.objects.visible_to(user)
    reports = SuspensionReport.objects.visible_to(user)
    by_status = dict(mines.filter(status__in=SUSPENDED).values_list("status").annotate(n=Count("pk")))
    tiles = {
        "suspended": by_status.get(Mine.Status.SUSPENDED, 0),
        "halted": by_status.get(Mine.Status.CONSTRUCTION_HALTED, 0),
        "reports_waiting": reports.filter(status=SuspensionReport.Status.SUBMITTED).count(),
        "city_report_overdue": reports.filter(status=SuspensionReport.Status.ACCEPTED,
                                              city_report_due__lt=today).count(),
        "applications_open": ResumptionApplication.objects.visible_to(user).filter(
            status__in=["applied", "checking"]).count(),
        "offences": Offence.objects.visible_to(user).count(),
        "disposals_overdue": DisposalDecision.objects.visible_to(user).filter(
            Q(status__in=["proposed", "in_progress"]) & Q(deadline__lt=today)).count(),
        "ponds_closed": PondClosurePlan.objects.visible_to(user).filter(status="closed").count(),
        "ponds_planned": PondClosurePlan.objects.visible_to(user).count(),
    }
    return render(request, "operations/index.html", {"tiles": tiles})
