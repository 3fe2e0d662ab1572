"""Penalty history as a factor of the enforcement app's risk score (enforcement.risk), registered by
PenaltiesConfig.ready(): the enforcement app sits below penalties and must not import it.

Counts, per mine, the penalty decisions in force decided in the window (a decision revoked by reconsideration or a
court does not count) and those whose fines are overdue now; weights, window and cap are the `penalties` section
of the risk catalogue (enforcement/reference/risk.yaml)."""

import datetime as dt

from django.db.models import Count, F, Q, Sum
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from minesafe.enforcement.risk import Points, register_factor, window, window_text
from minesafe.registry.models import Mine

from .models import Challenge, PenaltyCase


def penalty_factor(mines: list[Mine], as_of: dt.date, config: dict) -> dict[int, Points]:
    days = int(config.get("window_days", 365))
    since, until = window(as_of, days)
    overdue = Q(status=PenaltyCase.Status.DECIDED, payment_due__lt=as_of)
    rows = (PenaltyCase.objects.decided().filter(mine_id__in=[m.pk for m in mines], decided_on__gte=since,
                                                 decided_on__lte=until)
            .exclude(challenges__outcome=Challenge.Outcome.REVOKED).order_by().values("mine_id")
            .annotate(n=Count("pk"), fines=Sum(F("enterprise_fine") + F("person_fine")),
                      overdue=Count("pk", filter=overdue)))
    per_decision, per_overdue = int(config.get("decision", 0)), int(config.get("payment_overdue", 0))
    result = {}
    for row in rows:
        result[row["mine_id"]] = Points(row["n"] * per_decision + row["overdue"] * per_overdue, [{
            "fact": "penalties", "n": row["n"], "fines": int(row["fines"] or 0), "overdue": row["overdue"],
            "days": days}])
    return result


def penalties_text(fact: dict) -> str:
    parts = [_("%(n)d penalty decision(s) in %(w)s, fines %(f)s CNY") % {
        "n": fact["n"], "w": window_text(fact["days"]), "f": f"{fact['fines']:,}"}]
    if fact.get("overdue"):
        parts.append(_("%(n)d with fines overdue") % {"n": fact["overdue"]})
    return ", ".join(parts)


def register() -> None:
    register_factor("penalties", penalty_factor, label=gettext_lazy("Penalty history"),
                    facts={"penalties": penalties_text}, link=lambda mine_id: reverse("penalties:list"))
