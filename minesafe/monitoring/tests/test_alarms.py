"""Alarms through ingest and services: opening and level changes, no data, aggregation, 叫应回应, escalation,
and the configuration services (gateways, sensors, rules) with their permissions and audit."""

import datetime as dt
import hashlib
import json
import time

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from minesafe.core.errors import InvalidTransition
from minesafe.core.models import AuditEvent, Notification
from minesafe.monitoring import ingest, services
from minesafe.monitoring.models import Alarm, AlarmEvent, Gateway, Rule, Sensor

A = Alarm.Status
T = Alarm.Tier
E = AlarmEvent.Kind
MINUTE = dt.timedelta(minutes=1)
SECOND = dt.timedelta(seconds=1)


class Feed:
    """A gateway's clock: readings go through ingest.decode + ingest.commit, each batch later than the last."""

    def __init__(self):
        self.t = time.time() - 7200

    def send(self, token: str, series: dict[str, list[float]], step: float = 20.0) -> ingest.Outcome:
        rows = [{"sensor": code, "ts": self.t + i * step, "value": v}
                for code, values in series.items() for i, v in enumerate(values)]
        self.t += step * max(len(v) for v in series.values())
        message = ingest.decode("http", json.dumps({"readings": rows}), token=token)
        assert not message.errors and not message.parsed.errors, (message.errors, message.parsed.errors)
        return ingest.commit([message], quarantine=False)

    def co(self, monitored, *values: float, step: float = 20.0) -> ingest.Outcome:
        return self.send(monitored.token, {"CO-01": list(values)}, step)


@pytest.fixture
def feed() -> Feed:
    return Feed()


def fresh(obj):
    return type(obj).objects.get(pk=obj.pk)


def events(alarm: Alarm) -> list[str]:
    return list(AlarmEvent.objects.filter(alarm=alarm).order_by("pk").values_list("kind", flat=True))


def open_alarm(sensor: Sensor, source: str = Alarm.Source.THRESHOLD) -> Alarm:
    return Alarm.objects.get(sensor=sensor, source=source, closed_at__isnull=True)


def notes(user, alarm: Alarm) -> int:
    return Notification.objects.filter(recipient=user, link=services.alarm_link(alarm)).count()


def audited(alarm: Alarm, actor) -> list[dict]:
    qs = AuditEvent.objects.filter(object_type="monitoring.alarm", object_id=str(alarm.pk), actor=actor,
                                   action=AuditEvent.Action.TRANSITION).order_by("seq")
    return list(qs.values_list("after", flat=True))


@pytest.fixture
def alarm_at(monitored, feed):
    """An open CO threshold alarm at mine A, held for the minimum duration at `value` ppm."""

    def make(value: float) -> Alarm:
        feed.co(monitored, value, value, value)
        return open_alarm(monitored.co)

    return make


# Threshold alarms through ingest --------------------------------------------------------------------------
def test_sustained_co_at_24_ppm_opens_one_red_alarm(monitored, feed, personas):
    m = monitored
    feed.co(m, 24.0, 24.5)
    assert not Alarm.objects.exists()  # 20 s is shorter than the 40 s minimum duration
    feed.co(m, 25.0)
    alarm = open_alarm(m.co)
    assert (alarm.level, alarm.max_level, alarm.mine, alarm.kind, alarm.value) == (4, 4, personas.mine_a, "co", 25.0)
    assert (alarm.status, alarm.tier, alarm.active) == (A.UNACKNOWLEDGED, T.ENTERPRISE, True)
    assert alarm.ack_due_at == alarm.opened_at + dt.timedelta(minutes=5)
    assert alarm.response_due_at == alarm.ack_due_at + dt.timedelta(minutes=30)
    assert events(alarm) == [E.OPENED]
    assert fresh(m.co).level == 4
    feed.co(m, 30.0, 28.0, 26.0)  # 6 ppm above the window's low point: the rise rule raises its own alarm
    assert Alarm.objects.filter(source=Alarm.Source.THRESHOLD).count() == 1 and events(alarm) == [E.OPENED]
    assert notes(personas.ent_a, alarm) == 1
    assert notes(personas.county_a, alarm) == notes(personas.city, alarm) == notes(personas.ent_b, alarm) == 0


def test_a_backlog_sent_after_the_current_value_still_raises_the_missed_alarm(monitored, feed):
    m = monitored
    now = feed.t
    feed.co(m, 2.0)  # the gateway reconnects and sends its current value first …
    backlog = [{"sensor": "CO-01", "ts": now - 600 + 20 * i, "value": 40.0} for i in range(10)]  # … then this
    message = ingest.decode("http", json.dumps({"readings": backlog}), token=m.token)
    assert ingest.commit([message], quarantine=False).stored == 10
    alarm = Alarm.objects.get(sensor=m.co, source=Alarm.Source.THRESHOLD)
    assert (alarm.max_level, alarm.level, alarm.active, alarm.status) == (4, 4, False, A.UNACKNOWLEDGED)
    assert events(alarm) == [E.OPENED, E.CLEARED]  # over already, but still to be answered
    assert fresh(m.co).last_value == 2.0  # the live state still follows the newest reading
    # The same backlog sent again is a duplicate: nothing new.
    again = ingest.decode("http", json.dumps({"readings": backlog}), token=m.token)
    assert ingest.commit([again], quarantine=False).duplicates == 10
    assert Alarm.objects.filter(sensor=m.co).count() == 1 and events(alarm) == [E.OPENED, E.CLEARED]


def test_a_single_co_spike_opens_no_alarm(monitored, feed):
    feed.co(monitored, 3.0, 80.0, 3.0, 3.0, 3.0)
    assert not Alarm.objects.exists()
    assert fresh(monitored.co).level == 0


def test_level_changes_are_appended_to_the_open_alarm_and_a_fall_clears_it(monitored, feed):
    m = monitored
    feed.co(m, 30.0, 30.0, 30.0)
    alarm = open_alarm(m.co)
    feed.co(m, 18.0)
    assert (fresh(alarm).level, fresh(alarm).max_level, fresh(alarm).active) == (2, 4, True)
    feed.co(m, 21.0, 21.0, 21.0)
    assert fresh(alarm).level == 3
    feed.co(m, 2.0)
    cleared = fresh(alarm)
    assert (cleared.active, cleared.cleared_at is not None, cleared.closed_at) == (False, True, None)
    assert events(alarm) == [E.OPENED, E.LOWERED, E.RAISED, E.CLEARED]
    assert Alarm.objects.count() == 1
    assert list(AlarmEvent.objects.filter(alarm=alarm).order_by("pk").values_list("level", flat=True)) == [4, 2, 3, 3]


def test_a_cleared_alarm_closes_only_once_its_response_is_accepted(monitored, feed, personas):
    m = monitored
    feed.co(m, 30.0, 30.0, 30.0)
    alarm = open_alarm(m.co)
    feed.co(m, 2.0)
    assert fresh(alarm).closed_at is None
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="加强通风，撤出作业人员", people_withdrawn=True,
                     withdrawn_count=12)
    assert fresh(alarm).closed_at is None
    services.review(personas.county_a, alarm, accept=True)
    closed = fresh(alarm)
    assert (closed.status, closed.closed_at is not None) == (A.ACCEPTED, True)
    assert events(alarm)[-2:] == [E.ACCEPTED, E.CLOSED]


def test_an_accepted_alarm_still_present_closes_when_the_condition_clears(monitored, feed, personas):
    m = monitored
    feed.co(m, 30.0, 30.0, 30.0)
    alarm = open_alarm(m.co)
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="局扇加强通风", people_withdrawn=False)
    services.review(personas.city, alarm, accept=True)
    assert fresh(alarm).closed_at is None and fresh(alarm).status == A.ACCEPTED
    feed.co(m, 1.0)
    assert fresh(alarm).closed_at is not None
    assert events(alarm)[-2:] == [E.CLEARED, E.CLOSED]


def test_a_new_excursion_after_closing_opens_a_new_alarm(monitored, feed, personas):
    m = monitored
    feed.co(m, 30.0, 30.0, 30.0, 1.0)
    first = open_alarm(m.co)
    services.acknowledge(personas.ent_a, first)
    services.respond(personas.ent_a, first, measures="通风后复测正常", people_withdrawn=False)
    services.review(personas.county_a, first, accept=True)
    feed.co(m, 17.0, 17.0, 17.0)
    second = open_alarm(m.co)
    assert second.pk != first.pk and second.level == 2 and second.key == first.key
    assert Alarm.objects.filter(closed_at__isnull=True).count() == 1


def test_an_excursion_inside_one_batch_opens_and_clears_its_alarm(monitored, feed):
    """A gateway catching up after an outage sends minutes of readings at once; what happened in them counts."""
    feed.co(monitored, 2.0, 30.0, 30.0, 30.0, 30.0, 2.0, 2.0)
    alarm = open_alarm(monitored.co)
    assert (alarm.level, alarm.max_level, alarm.active, alarm.value) == (4, 4, False, 2.0)
    assert events(alarm) == [E.OPENED, E.CLEARED]
    assert AlarmEvent.objects.get(alarm=alarm, kind=E.OPENED).value == 30.0
    assert fresh(monitored.co).level == 0


def test_the_co_rise_rule_opens_a_rate_alarm(monitored, feed):
    m = monitored
    feed.co(m, 2.0, 8.0)  # +6 ppm within the window, both below the 10 ppm threshold: pending for 40 s
    assert not Alarm.objects.exists()
    feed.co(m, 8.0, 8.0)  # held for the rule's 40 s
    alarm = open_alarm(m.co, Alarm.Source.RATE)
    assert (alarm.level, alarm.value, alarm.rule.kind) == (4, 6.0, Rule.Kind.RATE)
    assert not Alarm.objects.filter(source=Alarm.Source.THRESHOLD).exists()
    feed.co(m, 8.5, 8.5, 8.5, step=600)  # the low point has left the window: no rise, the condition clears
    assert fresh(alarm).active is False


def test_a_co_fall_does_not_trip_the_rise_rule(monitored, feed):
    feed.co(monitored, 9.0, 2.0, step=600)
    assert not Alarm.objects.exists()


def test_o2_below_its_lower_threshold_opens_an_alarm(monitored, feed):
    feed.send(monitored.token, {"O2-01": [19.4, 19.3, 19.2]})
    alarm = open_alarm(monitored.o2)
    assert (alarm.level, alarm.kind) == (4, "o2")


# No data ---------------------------------------------------------------------------------------------------
def test_a_sensor_silent_more_than_its_intervals_raises_a_no_data_alarm(monitored, feed, personas):
    m = monitored
    feed.send(m.token, {"CO-01": [1.0], "O2-01": [20.9]})
    heard = fresh(m.co).last_received_at
    window = dt.timedelta(seconds=m.co.interval_s * 3)
    services.check_silence(now=heard + window)
    assert not Alarm.objects.filter(source=Alarm.Source.NO_DATA, mine=personas.mine_a).exists()
    run = services.check_silence(now=heard + window + SECOND)
    alarms = Alarm.objects.filter(source=Alarm.Source.NO_DATA, mine=personas.mine_a)
    assert sorted(alarms.values_list("sensor__code", "level")) == [("CO-01", 2), ("O2-01", 2)]
    assert fresh(m.co).silent and fresh(m.o2).silent
    assert run.silent >= 2
    services.check_silence(now=heard + window + MINUTE)
    assert alarms.count() == 2  # still one per sensor and rule


def test_a_mine_whose_every_measured_sensor_is_silent_raises_a_mine_dark_alarm(monitored, feed, personas):
    m = monitored
    feed.send(m.token, {"CO-01": [1.0]})
    later = fresh(m.co).last_received_at + 2 * MINUTE
    services.check_silence(now=later)
    dark = Alarm.objects.get(source=Alarm.Source.MINE_DARK, mine=personas.mine_a)
    assert (dark.level, dark.sensor) == (3, None)
    # the pond's water level reports every 10 minutes: not silent yet, so the pond is not dark
    assert not Alarm.objects.filter(source=Alarm.Source.MINE_DARK, mine=personas.pond_a).exists()
    services.check_silence(now=later + dt.timedelta(minutes=31))
    assert Alarm.objects.filter(source=Alarm.Source.MINE_DARK, mine=personas.pond_a).count() == 1  # derived don't count


def test_one_silent_sensor_is_not_a_dark_mine(monitored, feed, personas):
    m = monitored
    feed.send(m.token, {"CO-01": [1.0], "O2-01": [20.9]})
    heard = fresh(m.co).last_received_at
    Sensor.objects.filter(pk=m.o2.pk).update(last_received_at=heard - 2 * MINUTE)  # O2 went quiet before CO
    services.check_silence(now=heard + 30 * SECOND)
    assert Alarm.objects.filter(source=Alarm.Source.NO_DATA, sensor=m.o2).exists()
    assert not Alarm.objects.filter(source=Alarm.Source.NO_DATA, sensor=m.co).exists()
    assert not Alarm.objects.filter(source=Alarm.Source.MINE_DARK, mine=personas.mine_a).exists()


def test_after_the_platform_was_down_sensors_get_a_full_window_before_they_count_as_silent(
        monitored, feed, personas, monkeypatch):
    m = monitored
    feed.send(m.token, {"CO-01": [1.0], "O2-01": [20.9]})
    heard = fresh(m.co).last_received_at
    restarted = heard + 60 * MINUTE  # the platform was down for an hour and has just started again
    monkeypatch.setattr(services, "PROCESS_STARTED", restarted)
    assert services.check_silence(now=restarted + 30 * SECOND).silent == 0
    assert not Alarm.objects.filter(source__in=[Alarm.Source.NO_DATA, Alarm.Source.MINE_DARK]).exists()
    services.check_silence(now=restarted + 2 * MINUTE)  # still nothing heard: now they are silent
    assert {a.sensor_id for a in Alarm.objects.filter(source=Alarm.Source.NO_DATA, mine=personas.mine_a)} == {
        m.co.pk, m.o2.pk}
    assert Alarm.objects.filter(source=Alarm.Source.MINE_DARK, mine=personas.mine_a).exists()


def test_new_data_clears_the_no_data_and_mine_dark_alarms(monitored, feed, personas):
    m = monitored
    services.check_silence(now=timezone.now() + 2 * MINUTE)
    no_data = open_alarm(m.co, Alarm.Source.NO_DATA)
    dark = Alarm.objects.get(source=Alarm.Source.MINE_DARK, mine=personas.mine_a)
    feed.send(m.token, {"CO-01": [1.0]})
    assert fresh(no_data).active is False and fresh(dark).active is False
    assert fresh(m.co).silent is False
    assert open_alarm(m.o2, Alarm.Source.NO_DATA).active  # O2 is still silent
    assert events(no_data) == [E.OPENED, E.CLEARED]
    assert Alarm.objects.get(source=Alarm.Source.MINE_DARK, mine=personas.mine_b).active  # another mine stays dark


def test_a_silent_sensor_reporting_late_data_is_heard_again(monitored, feed):
    m = monitored
    feed.co(m, 1.0)
    old = feed.t - 600
    services.check_silence(now=timezone.now() + 2 * MINUTE)
    alarm = open_alarm(m.co, Alarm.Source.NO_DATA)
    message = ingest.decode("http", json.dumps({"readings": [{"sensor": "CO-01", "ts": old, "value": 1.0}]}),
                            token=m.token)
    ingest.commit([message], quarantine=False)
    assert fresh(alarm).active is False and fresh(m.co).silent is False


# Aggregation (GB 39496) ----------------------------------------------------------------------------------
def test_the_shipped_aggregation_steps(reference):
    assert services.aggregation_steps() == [(4, 1, 2), (3, 2, 3), (2, 3, 4)]


def test_four_blue_points_of_one_kind_at_one_mine_raise_a_yellow_item_alarm(monitored, feed, personas):
    m = monitored
    for code in ("CO-02", "CO-03", "CO-04"):
        services.create_sensor(personas.city, personas.mine_a, code=code, name=code, kind="co", gateway=m.gateway)
    for rule in Rule.objects.filter(sensor__mine=personas.mine_a, sensor__kind="co", kind=Rule.Kind.RATE):
        services.update_rule(personas.city, rule, {"active": False})  # points raised by thresholds alone
    feed.send(m.token_b, {"CO-01": [12.0, 12.0, 12.0]})  # mine B's CO-01 is another mine's item
    feed.send(m.token, {"CO-01": [12.0] * 3, "CO-02": [12.0] * 3, "CO-03": [12.0] * 3})
    assert Alarm.objects.filter(source=Alarm.Source.THRESHOLD, level=1).count() == 4
    assert not Alarm.objects.filter(source=Alarm.Source.AGGREGATE).exists()  # three points are not enough
    feed.send(m.token, {"CO-04": [12.0] * 3})
    item = Alarm.objects.get(source=Alarm.Source.AGGREGATE)
    assert (item.mine, item.kind, item.level, item.sensor) == (personas.mine_a, "co", 2, None)
    feed.send(m.token, {"CO-01": [17.0] * 3, "CO-02": [17.0] * 3, "CO-03": [17.0] * 3})
    assert fresh(item).level == 3  # three yellow points give orange
    feed.send(m.token, {"CO-01": [21.0] * 3, "CO-02": [21.0] * 3})
    assert fresh(item).level == 4  # two orange points give red
    feed.send(m.token, {code: [1.0] for code in ("CO-01", "CO-02", "CO-03", "CO-04")})
    assert fresh(item).active is False
    assert Alarm.objects.filter(source=Alarm.Source.AGGREGATE).count() == 1


def test_points_of_different_kinds_do_not_aggregate(monitored, feed, personas):
    m = monitored
    services.create_sensor(personas.city, personas.mine_a, code="NOX-01", name="NOx", kind="nox", gateway=m.gateway)
    services.create_sensor(personas.city, personas.mine_a, code="CO-02", name="CO-02", kind="co", gateway=m.gateway)
    feed.send(m.token, {"CO-01": [21.0] * 3, "NOX-01": [2.1] * 3})
    assert Alarm.objects.filter(source=Alarm.Source.THRESHOLD, level=3).count() == 2
    assert not Alarm.objects.filter(source=Alarm.Source.AGGREGATE).exists()
    feed.send(m.token, {"CO-02": [21.0] * 3})
    assert Alarm.objects.get(source=Alarm.Source.AGGREGATE).level == 4


# 叫应回应 ------------------------------------------------------------------------------------------------------
def test_the_enterprise_acknowledges_and_responds_and_the_county_accepts(alarm_at, personas):
    alarm = alarm_at(30.0)
    acked = services.acknowledge(personas.ent_a, alarm, note="值班员已收到")
    assert (acked.status, acked.acknowledged_by, acked.acknowledged_at is not None) == (A.ACKNOWLEDGED,
                                                                                         personas.ent_a, True)
    responded = services.respond(personas.ent_a, alarm, measures="撤出-350中段全部人员，加强通风",
                                 people_withdrawn=True, withdrawn_count=8)
    assert (responded.status, responded.people_withdrawn, responded.withdrawn_count) == (A.RESPONDED, True, 8)
    assert responded.responded_by == personas.ent_a
    reviewed = services.review(personas.county_a, alarm, accept=True, note="处置得当")
    assert (reviewed.status, reviewed.reviewed_by, reviewed.closed_at) == (A.ACCEPTED, personas.county_a, None)
    assert events(alarm) == [E.OPENED, E.ACKNOWLEDGED, E.RESPONDED, E.ACCEPTED]


def test_a_returned_response_must_be_given_again(alarm_at, personas):
    alarm = alarm_at(18.0)
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="已复测，数值正常")
    with pytest.raises(ValidationError) as exc:
        services.review(personas.county_a, alarm, accept=False, note="")
    assert "note" in exc.value.message_dict and fresh(alarm).status == A.RESPONDED
    before = notes(personas.ent_a, alarm)
    returned = services.review(personas.county_a, alarm, accept=False, note="未说明超限原因")
    assert returned.status == A.ACKNOWLEDGED and returned.closed_at is None
    assert notes(personas.ent_a, alarm) == before + 1
    services.respond(personas.ent_a, alarm, measures="原因为爆破后通风不足，已延长通风时间")
    assert services.review(personas.city, alarm, accept=True).status == A.ACCEPTED
    assert events(alarm)[1:] == [E.ACKNOWLEDGED, E.RESPONDED, E.RETURNED, E.RESPONDED, E.ACCEPTED]


def test_invalid_transitions_are_refused(alarm_at, personas):
    alarm = alarm_at(18.0)
    with pytest.raises(InvalidTransition):
        services.respond(personas.ent_a, alarm, measures="已处置完毕")
    with pytest.raises(InvalidTransition):
        services.review(personas.county_a, alarm, accept=True)
    services.acknowledge(personas.ent_a, alarm)
    with pytest.raises(InvalidTransition) as exc:
        services.acknowledge(personas.ent_a, alarm)
    assert exc.value.status_code == 409 and exc.value.code == "invalid_transition"
    with pytest.raises(InvalidTransition):
        services.review(personas.county_a, alarm, accept=True)
    services.respond(personas.ent_a, alarm, measures="已处置完毕")
    with pytest.raises(InvalidTransition):
        services.respond(personas.ent_a, alarm, measures="再次回应")
    assert fresh(alarm).status == A.RESPONDED


def test_a_closed_alarm_takes_no_more_actions(monitored, feed, alarm_at, personas):
    alarm = alarm_at(18.0)
    feed.co(monitored, 1.0)
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="已处置完毕")
    services.review(personas.county_a, alarm, accept=True)
    assert fresh(alarm).closed_at is not None
    for action in (lambda: services.acknowledge(personas.ent_a, alarm),
                   lambda: services.respond(personas.ent_a, alarm, measures="已处置完毕"),
                   lambda: services.review(personas.county_a, alarm, accept=True)):
        with pytest.raises(InvalidTransition):
            action()


def test_a_response_needs_measures(alarm_at, personas):
    alarm = alarm_at(18.0)
    services.acknowledge(personas.ent_a, alarm)
    for measures in ("", "   ", "x"):
        with pytest.raises(ValidationError) as exc:
            services.respond(personas.ent_a, alarm, measures=measures)
        assert "measures" in exc.value.message_dict
    assert fresh(alarm).status == A.ACKNOWLEDGED


@pytest.mark.parametrize("value", [21.0, 30.0])  # orange, red
def test_at_orange_and_red_the_response_says_whether_people_were_withdrawn(alarm_at, personas, value):
    alarm = alarm_at(value)
    services.acknowledge(personas.ent_a, alarm)
    with pytest.raises(ValidationError) as exc:
        services.respond(personas.ent_a, alarm, measures="加强通风")
    assert "people_withdrawn" in exc.value.message_dict
    assert fresh(alarm).status == A.ACKNOWLEDGED
    done = services.respond(personas.ent_a, alarm, measures="加强通风", people_withdrawn=False)
    assert (done.status, done.people_withdrawn, done.withdrawn_count) == (A.RESPONDED, False, None)


@pytest.mark.parametrize("value", [12.0, 18.0])  # blue, yellow
def test_below_orange_the_withdrawal_question_is_optional(alarm_at, personas, value):
    alarm = alarm_at(value)
    services.acknowledge(personas.ent_a, alarm)
    assert services.respond(personas.ent_a, alarm, measures="加强通风").people_withdrawn is None


def test_a_red_alarm_lowered_since_still_needs_the_withdrawal_answer(monitored, feed, alarm_at, personas):
    alarm = alarm_at(30.0)
    feed.co(monitored, 12.0)
    assert fresh(alarm).level == 1
    services.acknowledge(personas.ent_a, alarm)
    with pytest.raises(ValidationError) as exc:
        services.respond(personas.ent_a, alarm, measures="加强通风")
    assert "people_withdrawn" in exc.value.message_dict


@pytest.mark.parametrize(("withdrawn", "count", "ok"), [
    (True, None, False), (True, 0, False), (True, 5, True), (False, 3, False), (False, None, True), (False, 0, True)])
def test_the_withdrawn_count_goes_with_the_withdrawal(alarm_at, personas, withdrawn, count, ok):
    alarm = alarm_at(30.0)
    services.acknowledge(personas.ent_a, alarm)
    if ok:
        done = services.respond(personas.ent_a, alarm, measures="撤人并通风", people_withdrawn=withdrawn,
                                withdrawn_count=count)
        assert done.withdrawn_count == (count if withdrawn else None)
    else:
        with pytest.raises(ValidationError) as exc:
            services.respond(personas.ent_a, alarm, measures="撤人并通风", people_withdrawn=withdrawn,
                             withdrawn_count=count)
        assert "withdrawn_count" in exc.value.message_dict
        assert fresh(alarm).status == A.ACKNOWLEDGED


def test_a_level_rise_after_acknowledgement_must_be_acknowledged_again(monitored, feed, alarm_at, personas):
    alarm = alarm_at(18.0)
    services.acknowledge(personas.ent_a, alarm)
    feed.co(monitored, 30.0, 30.0, 30.0)
    raised = fresh(alarm)
    assert (raised.level, raised.status) == (4, A.UNACKNOWLEDGED)
    rise = AlarmEvent.objects.get(alarm=alarm, kind=E.RAISED)
    assert raised.ack_due_at == rise.at + dt.timedelta(minutes=5)  # red's deadline, counted from the rise
    assert events(alarm) == [E.OPENED, E.ACKNOWLEDGED, E.RAISED]
    with pytest.raises(InvalidTransition):
        services.respond(personas.ent_a, alarm, measures="加强通风", people_withdrawn=False)
    services.acknowledge(personas.ent_a, alarm)
    assert fresh(alarm).status == A.ACKNOWLEDGED


def test_a_lower_level_after_acknowledgement_keeps_the_handling(monitored, feed, alarm_at, personas):
    alarm = alarm_at(30.0)
    services.acknowledge(personas.ent_a, alarm)
    feed.co(monitored, 18.0)
    assert (fresh(alarm).level, fresh(alarm).status) == (2, A.ACKNOWLEDGED)


# Who may act --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("persona", ["ent_b", "inspector", "department", "county_b"])
def test_outsiders_cannot_answer_mine_as_alarm(alarm_at, personas, persona):
    alarm = alarm_at(18.0)
    user = getattr(personas, persona)
    with pytest.raises(PermissionDenied):
        services.acknowledge(user, alarm)
    services.acknowledge(personas.ent_a, alarm)
    with pytest.raises(PermissionDenied):
        services.respond(user, alarm, measures="已处置完毕")
    services.respond(personas.ent_a, alarm, measures="已处置完毕")
    with pytest.raises(PermissionDenied):
        services.review(user, alarm, accept=True)
    assert fresh(alarm).status == A.RESPONDED
    assert not AuditEvent.objects.filter(object_type="monitoring.alarm", actor=user).exists()


def test_the_enterprise_cannot_review_its_own_response(alarm_at, personas):
    alarm = alarm_at(18.0)
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="已处置完毕")
    with pytest.raises(PermissionDenied):
        services.review(personas.ent_a, alarm, accept=True)
    assert fresh(alarm).status == A.RESPONDED


@pytest.mark.parametrize("persona", ["county_a", "city"])
def test_county_and_city_may_step_in_and_answer(alarm_at, personas, persona):
    alarm = alarm_at(18.0)
    user = getattr(personas, persona)
    services.acknowledge(user, alarm)
    services.respond(user, alarm, measures="已电话督促企业处置")
    assert fresh(alarm).acknowledged_by == fresh(alarm).responded_by == user


def test_every_human_action_is_audited(alarm_at, personas):
    alarm = alarm_at(30.0)
    services.acknowledge(personas.ent_a, alarm, note="收到")
    services.respond(personas.ent_a, alarm, measures="撤出人员", people_withdrawn=True, withdrawn_count=3)
    services.review(personas.county_a, alarm, accept=False, note="请补充复测数据")
    services.respond(personas.ent_a, alarm, measures="复测 2 ppm，恢复作业", people_withdrawn=True, withdrawn_count=3)
    services.review(personas.county_a, alarm, accept=True)
    assert [a["status"] for a in audited(alarm, personas.ent_a)] == [A.ACKNOWLEDGED, A.RESPONDED, A.RESPONDED]
    assert audited(alarm, personas.ent_a)[1]["withdrawn_count"] == 3
    assert [a["status"] for a in audited(alarm, personas.county_a)] == [A.ACKNOWLEDGED, A.ACCEPTED]
    assert audited(alarm, personas.county_a)[0]["note"] == "请补充复测数据"


# Escalation and reminders (explicit `now`) ---------------------------------------------------------------
def test_a_missed_acknowledgement_climbs_from_enterprise_to_county_to_city(alarm_at, personas):
    p = personas
    alarm = alarm_at(30.0)
    assert services.escalate_alarms(now=alarm.ack_due_at - SECOND).escalated == 0
    assert fresh(alarm).tier == T.ENTERPRISE
    before = {u: notes(getattr(p, u), alarm) for u in ("ent_a", "county_a", "county_b", "city", "ent_b")}

    first = alarm.ack_due_at + SECOND
    assert services.escalate_alarms(now=first).escalated == 1
    county = fresh(alarm)
    assert (county.tier, county.status) == (T.COUNTY, A.UNACKNOWLEDGED)
    assert county.ack_due_at == first + dt.timedelta(minutes=5)
    assert notes(p.ent_a, alarm) == before["ent_a"] + 1 and notes(p.county_a, alarm) == before["county_a"] + 1
    assert notes(p.city, alarm) == before["city"] and notes(p.county_b, alarm) == before["county_b"]
    assert services.escalate_alarms(now=first).escalated == 0  # the same minute again: no second step

    second = county.ack_due_at + SECOND
    assert services.escalate_alarms(now=second).escalated == 1
    assert fresh(alarm).tier == T.CITY
    assert notes(p.city, alarm) == before["city"] + 1 and notes(p.county_a, alarm) == before["county_a"] + 2
    assert notes(p.county_b, alarm) == before["county_b"] and notes(p.ent_b, alarm) == before["ent_b"] == 0

    assert services.escalate_alarms(now=second + dt.timedelta(hours=1)).escalated == 0  # the top of the ladder
    assert fresh(alarm).tier == T.CITY
    steps = AlarmEvent.objects.filter(alarm=alarm, kind=E.ESCALATED).order_by("at")
    assert [(e.at, e.actor) for e in steps] == [(first, None), (second, None)]
    assert f"{T.ENTERPRISE.label} → {T.COUNTY.label}" in steps[0].note  # people read it: labels, not codes
    assert f"{T.COUNTY.label} → {T.CITY.label}" in steps[1].note
    system = AuditEvent.objects.filter(object_type="monitoring.alarm", object_id=str(alarm.pk), actor=None,
                                       before__tier__isnull=False).order_by("seq")
    assert [(e.before["tier"], e.after["tier"]) for e in system] == [(T.ENTERPRISE, T.COUNTY), (T.COUNTY, T.CITY)]


def test_a_missed_response_escalates_too(alarm_at, personas):
    alarm = alarm_at(21.0)  # orange: 15 minutes to acknowledge, 60 to respond
    services.acknowledge(personas.ent_a, alarm)
    acked = fresh(alarm)
    assert services.escalate_alarms(now=acked.response_due_at - SECOND).escalated == 0
    late = acked.response_due_at + SECOND
    assert services.escalate_alarms(now=late).escalated == 1
    county = fresh(alarm)
    assert (county.tier, county.status) == (T.COUNTY, A.ACKNOWLEDGED)
    assert county.response_due_at == late + dt.timedelta(minutes=60)
    assert notes(personas.county_a, alarm) == 1
    assert AlarmEvent.objects.filter(alarm=alarm, kind=E.ESCALATED).count() == 1


def test_a_responded_alarm_does_not_escalate(alarm_at, personas):
    alarm = alarm_at(30.0)
    services.acknowledge(personas.ent_a, alarm)
    services.respond(personas.ent_a, alarm, measures="撤出人员", people_withdrawn=True, withdrawn_count=2)
    run = services.escalate_alarms(now=timezone.now() + dt.timedelta(days=2))
    assert (run.escalated, run.reminded) == (0, 0)
    assert fresh(alarm).tier == T.ENTERPRISE


def test_reminders_repeat_while_unanswered_and_stop_after_the_response(alarm_at, personas):
    alarm = alarm_at(30.0)  # red: remind every 5 minutes
    services.acknowledge(personas.ent_a, alarm)
    due = fresh(alarm).next_reminder_at
    assert services.escalate_alarms(now=due - SECOND).reminded == 0
    run = services.escalate_alarms(now=due)
    assert (run.reminded, run.escalated) == (1, 0)
    assert services.escalate_alarms(now=due + MINUTE).reminded == 0
    assert services.escalate_alarms(now=due + 5 * MINUTE).reminded == 1
    assert services.escalate_alarms(now=due + 10 * MINUTE).reminded == 1
    assert AlarmEvent.objects.filter(alarm=alarm, kind=E.REMINDED).count() == 3
    assert notes(personas.ent_a, alarm) == 1 + 3  # opened + reminders
    services.respond(personas.ent_a, alarm, measures="撤出人员", people_withdrawn=True, withdrawn_count=2)
    assert services.escalate_alarms(now=due + 15 * MINUTE).reminded == 0
    assert AlarmEvent.objects.filter(alarm=alarm, kind=E.REMINDED).count() == 3


def test_an_unacknowledged_alarm_at_the_top_tier_keeps_being_reminded(alarm_at, personas):
    alarm = alarm_at(30.0)
    services.escalate_alarms(now=alarm.ack_due_at + SECOND)
    services.escalate_alarms(now=fresh(alarm).ack_due_at + SECOND)
    top = fresh(alarm)
    assert top.tier == T.CITY
    before = notes(personas.city, alarm)
    for i in range(3):
        run = services.escalate_alarms(now=top.next_reminder_at + i * 5 * MINUTE)
        assert (run.escalated, run.reminded) == (0, 1)
    assert notes(personas.city, alarm) == before + 3
    services.acknowledge(personas.city, alarm)
    services.respond(personas.city, alarm, measures="已责令撤人停产", people_withdrawn=True, withdrawn_count=20)
    assert services.escalate_alarms(now=top.next_reminder_at + dt.timedelta(hours=2)).reminded == 0


# Gateways ----------------------------------------------------------------------------------------------------
def test_a_gateways_token_is_shown_once_and_only_its_hash_is_kept(personas):
    gateway, token = services.create_gateway(personas.ent_a, personas.mine_a, " 地表监测站 ")
    assert token.startswith("gw_") and len(token) > 40
    stored = Gateway.objects.get(pk=gateway.pk)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert stored.token_prefix == token[:10] and stored.name == "地表监测站"
    assert token not in json.dumps(list(Gateway.objects.values()), default=str)
    logged = AuditEvent.objects.get(object_type="monitoring.gateway", object_id=str(gateway.pk))
    assert logged.actor == personas.ent_a and token not in json.dumps(logged.after)
    assert ingest.authenticate(token).mine_id == personas.mine_a.pk
    other, other_token = services.create_gateway(personas.ent_a, personas.mine_a, "第二网关")
    assert other_token != token and other.token_hash != stored.token_hash


def test_a_gateway_needs_a_name(personas):
    with pytest.raises(ValidationError):
        services.create_gateway(personas.ent_a, personas.mine_a, "  ")


def test_rotating_a_token_invalidates_the_old_one_for_ingest(monitored, feed, personas,
                                                            django_capture_on_commit_callbacks):
    feed.co(monitored, 1.0)  # the old token is in use (and cached by this process)
    with django_capture_on_commit_callbacks(execute=True):
        new = services.rotate_token(personas.county_a, monitored.gateway)
    old_message = ingest.decode("http", json.dumps({"readings": []}), token=monitored.token)
    assert [e["code"] for e in old_message.errors] == ["bad_token"]
    assert ingest.decode("http", json.dumps({"readings": []}), token=new).gateway.id == monitored.gateway.pk
    logged = AuditEvent.objects.filter(object_type="monitoring.gateway", object_id=str(monitored.gateway.pk),
                                       action=AuditEvent.Action.UPDATE).get()
    assert logged.actor == personas.county_a and new not in json.dumps(logged.after)


def test_a_deactivated_gateway_is_rejected_until_reactivated(monitored, feed, personas,
                                                             django_capture_on_commit_callbacks):
    feed.co(monitored, 1.0)
    with django_capture_on_commit_callbacks(execute=True):
        services.set_gateway_active(personas.ent_a, monitored.gateway, False)
    message = ingest.decode("http", json.dumps({"readings": []}), token=monitored.token)
    assert [e["code"] for e in message.errors] == ["bad_token"]
    with django_capture_on_commit_callbacks(execute=True):
        services.set_gateway_active(personas.ent_a, monitored.gateway, True)
    assert ingest.decode("http", json.dumps({"readings": []}), token=monitored.token).gateway is not None
    changes = AuditEvent.objects.filter(object_type="monitoring.gateway", object_id=str(monitored.gateway.pk),
                                        action=AuditEvent.Action.UPDATE).order_by("seq")
    assert [c.after for c in changes] == [{"active": False}, {"active": True}]


@pytest.mark.parametrize("persona", ["ent_b", "county_b", "inspector", "department"])
def test_outsiders_cannot_configure_mine_as_monitoring(monitored, personas, persona):
    user = getattr(personas, persona)
    rule = monitored.co.rules.get(kind=Rule.Kind.THRESHOLD)
    attempts = [
        lambda: services.create_gateway(user, personas.mine_a, "越权网关"),
        lambda: services.rotate_token(user, monitored.gateway),
        lambda: services.set_gateway_active(user, monitored.gateway, False),
        lambda: services.create_sensor(user, personas.mine_a, code="CO-99", name="x", kind="co"),
        lambda: services.update_sensor(user, monitored.co, {"name": "x"}),
        lambda: services.create_rule(user, monitored.co, kind=Rule.Kind.THRESHOLD, red=50),
        lambda: services.update_rule(user, rule, {"red": 100}),
    ]
    for attempt in attempts:
        with pytest.raises(PermissionDenied):
            attempt()
    assert fresh(rule).red == 24 and fresh(monitored.gateway).active
    assert not AuditEvent.objects.filter(actor=user).exists()


@pytest.mark.parametrize("persona", ["ent_a", "county_a", "city"])
def test_the_enterprise_its_county_and_the_city_configure_mine_a(personas, persona):
    user = getattr(personas, persona)
    gateway, _token = services.create_gateway(user, personas.mine_a, "网关")
    sensor = services.create_sensor(user, personas.mine_a, code="CO-09", name="CO", kind="co", gateway=gateway)
    assert sensor.mine == personas.mine_a


# Sensors and rules -----------------------------------------------------------------------------------------
def rules_of(sensor: Sensor) -> list[tuple]:
    return list(sensor.rules.order_by("pk").values_list(
        "kind", "direction", "blue", "yellow", "orange", "red", "hysteresis", "min_duration_s", "window_s",
        "silent_intervals", "level"))


def test_a_new_sensor_copies_its_kinds_default_rules_and_a_no_data_rule(monitored):
    assert monitored.co.unit == "ppm" and monitored.co.interval_s == 20
    assert rules_of(monitored.co) == [
        ("threshold", "upper", 10.0, 16.0, 20.0, 24.0, 1.0, 40, None, 3, 2),
        ("rate", "upper", None, None, None, 5.0, 0.0, 40, 600, 3, 2),
        ("no_data", "upper", None, None, None, None, 0.0, 0, None, 3, 2),
    ]
    assert [k for k, *_rest in rules_of(monitored.water)] == ["no_data"]  # thresholds come from the design
    assert rules_of(monitored.freeboard) == [  # derived: no data of its own to miss
        ("threshold", "lower", None, 1.0, 0.7, 0.5, 0.02, 0, None, 3, 2)]


def test_creating_a_sensor_is_audited_with_its_rules(personas):
    sensor = services.create_sensor(personas.ent_a, personas.mine_a, code="NOX-01", name="氮氧化物", kind="nox")
    logged = AuditEvent.objects.filter(actor=personas.ent_a, action=AuditEvent.Action.CREATE)
    assert logged.filter(object_type="monitoring.sensor", object_id=str(sensor.pk)).count() == 1
    rule_ids = {str(pk) for pk in sensor.rules.values_list("pk", flat=True)}
    assert set(logged.filter(object_type="monitoring.rule").values_list("object_id", flat=True)) == rule_ids
    assert len(rule_ids) == 2


def test_a_sensor_without_default_rules(personas):
    sensor = services.create_sensor(personas.city, personas.mine_a, code="CO-50", name="CO", kind="co",
                                    default_rules=False)
    assert not sensor.rules.exists()


@pytest.mark.parametrize(("fields", "error"), [
    ({"kind": "unicorns"}, "kind"),
    ({"code": "CO-01"}, "code"),
    ({"interval_s": 0}, "interval_s"),
    ({"gateway": "B"}, "gateway"),
    ({"source": "B"}, "source"),
    ({"source": "freeboard"}, "source"),
])
def test_sensor_validation(monitored, personas, fields, error):
    values = {"code": "X-01", "kind": "co"}
    for name, value in fields.items():
        values[name] = {"B": monitored.gateway_b if name == "gateway" else monitored.co_b,
                        "freeboard": monitored.freeboard}.get(value, value)
    count = Sensor.objects.count()
    with pytest.raises(ValidationError) as exc:
        services.create_sensor(personas.city, personas.mine_a if "source" not in fields else personas.pond_a,
                               name="x", **values)
    assert error in exc.value.message_dict
    assert Sensor.objects.count() == count


def test_update_rule_checks_thresholds_grow_more_severe(monitored, personas):
    rule = monitored.co.rules.get(kind=Rule.Kind.THRESHOLD)
    with pytest.raises(ValidationError) as exc:
        services.update_rule(personas.city, rule, {"yellow": 22})  # above orange 20
    assert "red" in exc.value.message_dict
    lower = monitored.freeboard.rules.get()
    with pytest.raises(ValidationError):
        services.update_rule(personas.city, lower, {"red": 0.8})  # a lower rule's red must be the lowest value
    services.update_rule(personas.city, lower, {"red": 0.6})
    with pytest.raises(ValidationError) as exc:
        services.update_rule(personas.city, rule, {"blue": None, "yellow": None, "orange": None, "red": None})
    assert "red" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.update_rule(personas.city, rule, {"hysteresis": -1})
    assert "hysteresis" in exc.value.message_dict
    assert (fresh(rule).yellow, fresh(rule).hysteresis, fresh(lower).red) == (16, 1, 0.6)


def test_a_rate_rule_needs_a_window(monitored, personas):
    rate = monitored.co.rules.get(kind=Rule.Kind.RATE)
    with pytest.raises(ValidationError) as exc:
        services.update_rule(personas.city, rate, {"window_s": None})
    assert "window_s" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        services.create_rule(personas.city, monitored.o2, kind=Rule.Kind.RATE, red=1.0)
    assert "window_s" in exc.value.message_dict
    assert fresh(rate).window_s == 600


def test_rule_kind_and_unknown_fields_cannot_be_changed(monitored, personas):
    rule = monitored.co.rules.get(kind=Rule.Kind.THRESHOLD)
    for change in ({"kind": "rate"}, {"sensor": monitored.o2}, {"id": 5}):
        with pytest.raises(ValidationError):
            services.update_rule(personas.city, rule, change)
    assert fresh(rule).kind == Rule.Kind.THRESHOLD and fresh(rule).sensor_id == monitored.co.pk


def test_a_no_data_rule_is_not_allowed_on_a_derived_sensor(monitored, personas):
    with pytest.raises(ValidationError) as exc:
        services.create_rule(personas.city, monitored.freeboard, kind=Rule.Kind.NO_DATA)
    assert "kind" in exc.value.message_dict


def test_a_rule_change_is_audited_field_by_field_and_applies_to_the_next_reading(monitored, feed, personas):
    rule = monitored.co.rules.get(kind=Rule.Kind.THRESHOLD)
    feed.co(monitored, 7.0, 7.0, 7.0)
    assert not Alarm.objects.exists()
    services.update_rule(personas.ent_a, rule, {"blue": 5.0, "note": "设计单位调整"})
    logged = AuditEvent.objects.get(object_type="monitoring.rule", object_id=str(rule.pk),
                                    action=AuditEvent.Action.UPDATE)
    assert logged.actor == personas.ent_a
    assert logged.before == {"blue": 10.0, "note": rule.note} and logged.after == {"blue": 5.0, "note": "设计单位调整"}
    feed.co(monitored, 7.0, 7.0, 7.0)
    assert open_alarm(monitored.co).level == 1


def test_an_unchanged_rule_writes_no_audit_event(monitored, personas):
    rule = monitored.co.rules.get(kind=Rule.Kind.THRESHOLD)
    services.update_rule(personas.city, rule, {"red": 24.0})
    assert not AuditEvent.objects.filter(object_type="monitoring.rule", action=AuditEvent.Action.UPDATE).exists()


# Review findings: switched-off rules and sensors, dark mines, one no-data rule, four eyes ---------------------
def test_switching_a_rule_off_ends_its_alarms_condition(alarm_at, monitored, personas):
    alarm = alarm_at(30.0)
    services.update_rule(personas.city, alarm.rule, {"active": False})
    alarm = fresh(alarm)
    assert (alarm.active, alarm.closed_at) == (False, None)  # the condition is gone; the answer is still due
    assert events(alarm)[-1] == E.CLEARED


def test_switching_a_sensor_off_ends_its_alarms_condition(monitored, feed, personas):
    m = monitored
    feed.co(m, 1.0)
    services.check_silence(now=timezone.now() + 2 * MINUTE)
    no_data = open_alarm(m.o2, Alarm.Source.NO_DATA)
    services.update_sensor(personas.city, m.o2, {"active": False})
    assert fresh(no_data).active is False


def test_a_mine_that_is_no_longer_dark_has_its_alarm_cleared_by_the_next_check(monitored, feed, personas):
    m = monitored
    later = timezone.now() + 2 * MINUTE
    services.check_silence(now=later)
    dark = Alarm.objects.get(source=Alarm.Source.MINE_DARK, mine=personas.mine_a)
    Sensor.objects.filter(pk=m.co.pk).update(silent=False, last_received_at=later)  # heard; nothing cleared it
    services.check_silence(now=later + SECOND)
    assert fresh(dark).active is False
    assert Alarm.objects.get(source=Alarm.Source.MINE_DARK, mine=personas.mine_b).active  # still dark


def test_a_sensor_has_one_no_data_rule(monitored, personas):
    with pytest.raises(ValidationError) as exc:
        services.create_rule(personas.city, monitored.co, kind=Rule.Kind.NO_DATA, silent_intervals=10, level=4)
    assert "kind" in exc.value.message_dict


def test_a_response_is_reviewed_by_someone_else(alarm_at, personas):
    alarm = alarm_at(30.0)
    services.acknowledge(personas.county_a, alarm)
    services.respond(personas.county_a, alarm, measures="撤人复测", people_withdrawn=True, withdrawn_count=3)
    with pytest.raises(PermissionDenied):
        services.review(personas.county_a, alarm, accept=True)
    assert services.review(personas.city, alarm, accept=True).status == A.ACCEPTED
