"""The late fee (加处罚款, 《行政处罚法》第七十二条): once a fine is overdue, 3% a day, never more than the fine;
not counted while a reconsideration or lawsuit runs (第七十三条). A pure function of dates and amounts, so tests
freeze time by passing `as_of`.

Day counting: the fine is due on `due` (15 days after service); each day d after it on which something was still
owed at the start of the day (payments on or after d do not count for d) adds `rate` × base, where the base is
the unpaid part ("outstanding") or the whole fine ("fine"), per the catalogue. A payment on the due date costs
nothing; a payment on the day after costs one day.
"""

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal("0")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class LateFee:
    days: int  # overdue days counted (paused days not included)
    amount: Decimal  # the late fee accrued, capped
    capped: bool
    accruing: bool  # still growing on as_of (something unpaid, not paused, cap not reached)
    paused: bool  # a reconsideration or lawsuit runs on as_of


def paused_on(day: dt.date, pauses) -> bool:
    return any(start <= day and (end is None or day <= end) for start, end in pauses)


def compute(fine: Decimal, due: dt.date | None, payments, pauses, as_of: dt.date, *, rate: Decimal,
            cap_share: Decimal = Decimal("1"), base: str = "outstanding") -> LateFee:
    """`payments`: (paid_on, amount) of the fine itself; `pauses`: (start, end or None) of challenges."""
    fine = Decimal(fine)
    if due is None or fine <= 0 or as_of <= due:
        return LateFee(0, ZERO, False, False, paused_on(as_of, pauses))
    cap = (fine * cap_share).quantize(CENT)
    paid = sorted((d, Decimal(a)) for d, a in payments)
    total, days, index, paid_before = ZERO, 0, 0, ZERO
    day = due + dt.timedelta(days=1)
    while day <= as_of:
        while index < len(paid) and paid[index][0] < day:
            paid_before += paid[index][1]
            index += 1
        outstanding = fine - paid_before
        if outstanding <= 0:
            break
        if not paused_on(day, pauses):
            total += rate * (outstanding if base == "outstanding" else fine)
            days += 1
            if total >= cap:
                break
        day += dt.timedelta(days=1)
    capped = total >= cap
    amount = min(total, cap).quantize(CENT)
    paused = paused_on(as_of, pauses)
    unpaid_now = fine - sum((a for d, a in paid if d <= as_of), ZERO)
    accruing = unpaid_now > 0 and not capped and not paused
    return LateFee(days, amount, capped, accruing, paused)
