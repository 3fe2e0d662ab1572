"""Small builders the thirdparty tests share (through the services, so every row is as real as in use)."""

import datetime as dt

from django.utils import timezone

from minesafe.core.validators import credit_code_check_char
from minesafe.thirdparty import services
from minesafe.thirdparty.models import Engagement, Firm, Qualification, ServiceKind

TODAY = dt.date(2026, 11, 30)
NOW = timezone.make_aware(dt.datetime.combine(TODAY, dt.time(10)))
K = ServiceKind


def days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def code(serial: int, division: str = "130802") -> str:
    first17 = f"91{division}MA{serial:07d}"
    return first17 + credit_code_check_char(first17)


def firm(actor, name: str = "承德测试安全评价有限公司", serial: int = 1, kinds=(K.SAFETY_EVALUATION,)) -> Firm:
    return services.create_firm(actor, name=name, credit_code=code(serial), kinds=list(kinds),
                                address="承德市双桥区", contact_person="王经理", contact_phone="0314-2000000")


def qualify(actor, firm: Firm, kind: str = K.SAFETY_EVALUATION, valid_from: dt.date | None = None,
            valid_to: dt.date | None = None, number: str | None = None, **extra) -> Qualification:
    valid_from = valid_from or days(-1000)
    valid_to = valid_to or days(800)
    return services.add_qualification(actor, firm, kind=kind, certificate_number=number or f"APJ-{valid_from}",
                                      issuing_authority="河北省应急管理厅", valid_from=valid_from,
                                      valid_to=valid_to, **extra)


def engage(actor, mine, firm: Firm, kind: str = K.SAFETY_EVALUATION, engaged_on: dt.date | None = None,
           **extra) -> Engagement:
    data = {"report_title": f"{mine.name}安全现状评价报告", "report_number": "PJ-2026-001", **extra}
    return services.record_engagement(actor, mine, firm=firm, kind=kind, engaged_on=engaged_on or days(-60),
                                      **data)
