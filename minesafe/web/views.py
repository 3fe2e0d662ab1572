from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import render
from django.utils import timezone

from minesafe.monitoring import queries as monitoring
from minesafe.registry.models import Mine


@login_required
def home(request):
    """The signed-in user's overview of the mines they may see."""
    mines = Mine.objects.visible_to(request.user)
    today = timezone.localdate()
    soon = today + timezone.timedelta(days=90)
    totals = mines.aggregate(
        total=Count("id"),
        producing=Count("id", filter=Q(status=Mine.Status.PRODUCING)),
        suspended=Count("id", filter=Q(status__in=[Mine.Status.SUSPENDED, Mine.Status.CONSTRUCTION_HALTED])),
        closed=Count("id", filter=Q(status=Mine.Status.CLOSED)),
        overdue=Count("id", filter=Q(ledger_due_date__lt=today)),
        licence_expired=Count("id", filter=Q(licence_expiry__lt=today) & ~Q(status=Mine.Status.CLOSED)),
        licence_soon=Count("id", filter=Q(licence_expiry__gte=today, licence_expiry__lte=soon)
                           & ~Q(status=Mine.Status.CLOSED)),
        ponds=Count("id", filter=Q(mine_type=Mine.Type.TAILINGS_POND) & ~Q(status=Mine.Status.CLOSED)),
        head_ponds=Count("id", filter=Q(is_head_pond=True) & ~Q(status=Mine.Status.CLOSED)),
    )
    by_county = (mines.values("county__code", "county__name_zh", "county__short_zh")
                 .annotate(total=Count("id"),
                           producing=Count("id", filter=Q(status=Mine.Status.PRODUCING)),
                           suspended=Count("id", filter=Q(status=Mine.Status.SUSPENDED)),
                           ponds=Count("id", filter=Q(mine_type=Mine.Type.TAILINGS_POND)),
                           overdue=Count("id", filter=Q(ledger_due_date__lt=today)))
                 .order_by("county__code"))
    by_type = mines.values("mine_type").annotate(n=Count("id")).order_by("-n")
    labels = dict(Mine.Type.choices)
    return render(request, "web/home.html", {
        "totals": totals,
        "by_county": by_county,
        "by_type": [(labels[row["mine_type"]], row["n"], row["mine_type"]) for row in by_type],
        "overdue_mines": mines.ledger_overdue(today).select_related("county").order_by("ledger_due_date")[:10],
        "monitoring": monitoring.summary(request.user),
    })


@login_required
def enforcement_hub(request):
    """Enforcement in one place (plan tasks 24–32): plans, inspections, penalties, accidents, the county
    evaluation, whistleblower reports, third-party firms, staff and equipment — with this year's counts in
    the reader's scope. Officials only."""
    from django.core.exceptions import PermissionDenied

    from minesafe.core.models import User
    from minesafe.core.scoping import is_city
    from minesafe.enforcement.models import Accident, InspectionPlan
    from minesafe.inspections.models import Inspection
    from minesafe.penalties.models import PenaltyCase
    from minesafe.tipoffs.models import Tipoff

    user = request.user
    if not (is_city(user) or user.role in (User.Role.COUNTY, User.Role.INSPECTOR)):
        raise PermissionDenied
    year = timezone.localdate().year
    inspections = Inspection.objects.visible_to(user).filter(inspected_on__year=year)
    plans = InspectionPlan.objects.filter(year=year)
    if not is_city(user):
        plans = plans.filter(organisation_id=user.organisation_id)
    counts = {
        "inspections": inspections.filter(status=Inspection.Status.COMPLETED).count(),
        "inspections_open": inspections.filter(status=Inspection.Status.IN_PROGRESS).count(),
        "plans": plans.count(),
        "penalties": PenaltyCase.objects.visible_to(user).filter(decided_on__year=year).count(),
        "accidents_open": Accident.objects.visible_to(user).exclude(status=Accident.Status.CLOSED).count(),
        "tipoffs_overdue": Tipoff.objects.visible_to(user).overdue().count(),
    }
    return render(request, "web/enforcement.html", {"counts": counts, "year": year,
                                                    "official": user.role != User.Role.INSPECTOR})
