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
