"""The demo's third-party firms: seeded through the services on top of the demo city, with the showcase
records the brief names, visible to the demo logins, and seeded once."""

import datetime as dt

import pytest

from minesafe.core.audit import verify_chain
from minesafe.core.models import User
from minesafe.thirdparty.demo import FIRMS, seed_thirdparty
from minesafe.thirdparty.models import CaseAction, Check, Engagement, FalsificationCase, Firm, ServiceKind
from minesafe.web.demo import seed_demo

from .factories import TODAY

pytestmark = pytest.mark.django_db


def test_the_demo_seeds_firms_checks_and_the_showcase_cases_once(reference, client):
    seed_demo(months=1, scale=0.4, monitoring=False, until="tipoffs")  # a smaller city, the same kinds of records
    summary = seed_thirdparty(2026)
    assert summary.problems == []
    assert summary.firms == Firm.objects.count() == len(FIRMS) == 25
    assert {k for f in Firm.objects.prefetch_related("kind_rows") for k in f.kinds} == set(ServiceKind.values)
    assert (summary.expiring, summary.expired, summary.blacklisted, summary.suspended) == (2, 1, 1, 1)
    assert summary.engagements == Engagement.objects.count() > 80
    for engagement in Engagement.objects.select_related("qualification"):
        assert engagement.qualification.covers(engagement.engaged_on)
    checks = Check.objects.all()
    assert summary.checks == checks.count() >= 30
    assert min(c.checked_on for c in checks) >= TODAY - dt.timedelta(days=400)
    assert {c.result for c in checks} == set(Check.Result.values)
    assert checks.filter(status=Check.Status.OPEN).exists() and checks.filter(published_at__isnull=False).exists()

    closed = FalsificationCase.objects.get(status=FalsificationCase.Status.CLOSED)
    assert CaseAction.BLACKLIST in closed.actions and closed.published_at is not None
    assert closed.firm.status == Firm.Status.BLACKLISTED and closed.mines.count() >= 2
    assert FalsificationCase.objects.filter(status=FalsificationCase.Status.UNDER_INVESTIGATION).count() == 1
    assert closed.firm.name in client.get("/public/thirdparty/blacklist/").content.decode()

    ent = User.objects.get(username="qiye_kc")
    assert Engagement.objects.visible_to(ent).exists()
    assert verify_chain().ok

    again = seed_thirdparty(2026)
    assert again.firms == 0 and Firm.objects.count() == 25 and Engagement.objects.count() == summary.engagements
