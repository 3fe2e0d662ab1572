"""The late fee (加处罚款) with frozen dates: 3% a day of what is unpaid once overdue, capped at the fine, not
counted while a reconsideration or lawsuit runs; and the case's own figures through the catalogue."""

import datetime as dt
from decimal import Decimal

import pytest

from minesafe.penalties import latefee, services

from .conftest import D

RATE = Decimal("0.03")
DUE = D(2026, 10, 31)
FINE = Decimal("10000")
TODAY = D(2026, 11, 30)


def fee(payments=(), pauses=(), as_of=TODAY, base="outstanding", fine=FINE, due=DUE):
    return latefee.compute(fine, due, list(payments), list(pauses), as_of, rate=RATE, base=base)


def test_nothing_is_owed_on_or_before_the_due_date():
    assert fee(as_of=DUE).amount == 0 and not fee(as_of=DUE).accruing
    assert fee(as_of=D(2026, 10, 1)).days == 0


def test_three_percent_a_day_from_the_day_after_the_due_date():
    result = fee(as_of=D(2026, 11, 10))
    assert result.days == 10 and result.amount == Decimal("3000.00") and result.accruing and not result.capped


def test_the_late_fee_never_exceeds_the_fine():
    result = fee(as_of=D(2027, 3, 1))
    assert result.amount == FINE and result.capped and result.days == 34  # 34 × 3% = 102% → capped
    assert not result.accruing


def test_paying_on_the_due_date_costs_nothing_and_a_day_later_costs_one_day():
    assert fee(payments=[(DUE, FINE)]).amount == 0
    late = fee(payments=[(DUE + dt.timedelta(days=1), FINE)])
    assert late.days == 1 and late.amount == Decimal("300.00") and not late.accruing


def test_a_partial_payment_lowers_the_daily_charge_on_the_outstanding_base():
    # 6 days on 10000 (a payment counts from the day after), then 4 days on 4000 (6000 paid on 11-06).
    result = fee(payments=[(D(2026, 11, 6), Decimal("6000"))], as_of=D(2026, 11, 10))
    assert result.days == 10 and result.amount == Decimal("2280.00")
    literal = fee(payments=[(D(2026, 11, 6), Decimal("6000"))], as_of=D(2026, 11, 10), base="fine")
    assert literal.amount == Decimal("3000.00")


def test_days_under_reconsideration_or_lawsuit_are_not_counted():
    result = fee(pauses=[(D(2026, 11, 3), D(2026, 11, 7))], as_of=D(2026, 11, 10))
    assert result.days == 5 and result.amount == Decimal("1500.00") and result.accruing
    running = fee(pauses=[(D(2026, 11, 3), None)], as_of=D(2026, 11, 10))
    assert running.days == 2 and running.paused and not running.accruing


def test_no_due_date_no_late_fee():
    assert fee(due=None).amount == 0
    assert fee(fine=Decimal("0")).amount == 0


@pytest.mark.django_db
def test_a_served_case_unpaid_for_forty_days_owes_its_late_fee(personas, decided):
    """Served 10-16, due 10-31; as of 11-30 thirty days overdue: 90% of each fine."""
    states = {s.target: s for s in services.fine_states(decided, as_of=D(2026, 11, 30))}
    assert states["enterprise"].late_fee.amount == Decimal("22500.00")
    assert states["person"].late_fee.amount == Decimal("25200.00")
    assert states["enterprise"].outstanding == Decimal("25000") and not states["enterprise"].settled
    capped = services.fine_states(decided, as_of=D(2027, 1, 30))[0]
    assert capped.late_fee.amount == decided.enterprise_fine and capped.late_fee.capped
