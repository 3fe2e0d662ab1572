"""Login lockout after repeated failures, its audit trail, and the idle-session timeout (等保 2.0 baseline)."""

import datetime as dt
import time
from urllib.parse import parse_qs

import pytest
from django.conf import settings
from django.contrib.auth import authenticate
from django.urls import reverse
from django.utils import timezone

from conftest import PASSWORD
from minesafe.core import audit
from minesafe.core.models import AuditEvent, User

LOGIN_URL = "/accounts/login/"
LOGGED_IN_TARGET = "/admin/"  # a safe `next` that exists whatever pages the web app has yet


def post_login(client, username: str, password: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"  # English messages, as a person who chose English
    return client.post(LOGIN_URL, {"username": username, "password": password, "next": LOGGED_IN_TARGET})


def logged_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def actions_for(user: User) -> list[str]:
    return list(AuditEvent.objects.filter(object_type="core.user", object_id=str(user.pk))
                .order_by("seq").values_list("action", flat=True))


@pytest.fixture
def ent_a(personas) -> User:
    return personas.ent_a


def test_login_url_is_named_login():
    assert reverse("login") == LOGIN_URL
    assert settings.LOGIN_MAX_FAILURES == 5
    assert settings.LOGIN_LOCK_MINUTES == 30
    assert settings.SESSION_IDLE_TIMEOUT_S == 1800


# Successful login ---------------------------------------------------------------------------------
def test_login_with_the_right_password_starts_a_session_and_is_audited(client, ent_a):
    response = post_login(client, "ent_a", PASSWORD)
    assert response.status_code == 302
    assert response.url == LOGGED_IN_TARGET
    assert logged_in_user_id(client) == str(ent_a.pk)
    event = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).get()
    assert (event.actor_id, event.object_id) == (ent_a.pk, str(ent_a.pk))


def test_successful_login_resets_the_failure_count(client, ent_a):
    for _ in range(3):
        post_login(client, "ent_a", "wrong-password")
    ent_a.refresh_from_db()
    assert ent_a.failed_logins == 3
    post_login(client, "ent_a", PASSWORD)
    ent_a.refresh_from_db()
    assert ent_a.failed_logins == 0
    assert ent_a.locked_until is None
    assert logged_in_user_id(client) == str(ent_a.pk)


def test_failures_before_a_success_do_not_add_up_to_a_lock(client, ent_a):
    for _ in range(4):
        post_login(client, "ent_a", "wrong-password")
    post_login(client, "ent_a", PASSWORD)
    client.logout()
    for _ in range(4):
        post_login(client, "ent_a", "wrong-password")
    ent_a.refresh_from_db()
    assert ent_a.locked_until is None
    assert ent_a.failed_logins == 4


# Failures and lockout -----------------------------------------------------------------------------
def test_wrong_password_is_refused_counted_and_audited(client, ent_a):
    response = post_login(client, "ent_a", "wrong-password")
    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    ent_a.refresh_from_db()
    assert ent_a.failed_logins == 1
    assert ent_a.locked_until is None
    event = AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN_FAILED).get()
    assert event.object_id == str(ent_a.pk)
    assert event.after == {"failed_logins": 1}


def test_four_wrong_passwords_do_not_lock_the_account(client, ent_a):
    for _ in range(4):
        post_login(client, "ent_a", "wrong-password")
    ent_a.refresh_from_db()
    assert ent_a.locked_until is None
    assert ent_a.failed_logins == 4


def test_five_wrong_passwords_lock_the_account_for_thirty_minutes(client, ent_a):
    before = timezone.now()
    for _ in range(5):
        post_login(client, "ent_a", "wrong-password")
    after = timezone.now()
    ent_a.refresh_from_db()
    assert ent_a.locked_until is not None
    assert before + dt.timedelta(minutes=30) <= ent_a.locked_until <= after + dt.timedelta(minutes=30)
    assert ent_a.failed_logins == 0


def test_locked_account_refuses_the_right_password_and_says_it_is_locked(client, ent_a):
    for _ in range(5):
        post_login(client, "ent_a", "wrong-password")
    response = post_login(client, "ent_a", PASSWORD)
    assert response.status_code == 200
    assert logged_in_user_id(client) is None
    assert "This account is locked" in response.content.decode()
    assert [e.code for e in response.context["form"].non_field_errors().as_data()] == ["locked"]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.LOGIN).exists()


def test_lockout_writes_failed_and_locked_audit_events(client, ent_a):
    for _ in range(5):
        post_login(client, "ent_a", "wrong-password")
    post_login(client, "ent_a", PASSWORD)
    assert actions_for(ent_a) == ["login_failed"] * 5 + ["locked"]
    locked = AuditEvent.objects.get(action=AuditEvent.Action.LOCKED)
    ent_a.refresh_from_db()
    assert locked.after == {"locked_until": audit.json_safe(ent_a.locked_until)}
    assert audit.verify_chain().ok


def test_locked_account_is_refused_by_every_login_path(ent_a):
    User.objects.filter(pk=ent_a.pk).update(locked_until=timezone.now() + dt.timedelta(minutes=10))
    assert authenticate(None, username="ent_a", password=PASSWORD) is None
    ent_a.refresh_from_db()
    assert ent_a.failed_logins == 0  # attempts while locked neither count nor extend the lock


def test_lock_does_not_affect_other_accounts(client, personas):
    for _ in range(5):
        post_login(client, "ent_a", "wrong-password")
    post_login(client, "ent_b", PASSWORD)
    assert logged_in_user_id(client) == str(personas.ent_b.pk)


def test_expired_lock_lets_the_right_password_in(client, ent_a):
    for _ in range(5):
        post_login(client, "ent_a", "wrong-password")
    User.objects.filter(pk=ent_a.pk).update(locked_until=timezone.now() - dt.timedelta(seconds=1))
    response = post_login(client, "ent_a", PASSWORD)
    assert response.status_code == 302
    assert logged_in_user_id(client) == str(ent_a.pk)
    ent_a.refresh_from_db()
    assert ent_a.locked_until is None


def test_unknown_username_is_audited_without_an_actor(client, personas):
    response = post_login(client, "nobody-here", "whatever")
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.LOGIN_FAILED)
    assert event.actor_id is None
    assert event.object_repr == "nobody-here"


def test_logout_is_audited_and_ends_the_session(client, ent_a):
    post_login(client, "ent_a", PASSWORD)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert logged_in_user_id(client) is None
    assert actions_for(ent_a)[-1] == "logout"


# Idle timeout -------------------------------------------------------------------------------------
def set_last_seen(client, seconds_ago: float) -> None:
    session = client.session
    session["last_seen"] = time.time() - seconds_ago
    session.save()


def test_session_idle_for_more_than_thirty_minutes_is_logged_out(client, ent_a):
    client.force_login(ent_a)
    set_last_seen(client, 1801)
    response = client.get("/admin/")
    assert response.status_code == 302
    path, _, query = response.url.partition("?")
    assert path == LOGIN_URL
    assert parse_qs(query) == {"next": ["/admin/"], "timeout": ["1"]}
    assert "_auth_user_id" not in client.session


def test_session_idle_for_less_than_thirty_minutes_stays_logged_in(client, ent_a):
    client.force_login(ent_a)
    set_last_seen(client, 1700)
    client.get("/admin/")
    assert client.session.get("_auth_user_id") == str(ent_a.pk)
    assert time.time() - client.session["last_seen"] < 60  # the request refreshed it


def test_every_request_restarts_the_idle_clock(client, ent_a):
    client.force_login(ent_a)
    client.get("/admin/")  # first request stamps last_seen
    assert "last_seen" in client.session
    set_last_seen(client, 1000)
    client.get("/admin/")
    set_last_seen(client, 1000)  # 2000 s since login, but only 1000 s idle
    client.get("/admin/")
    assert client.session.get("_auth_user_id") == str(ent_a.pk)


def test_idle_api_request_is_logged_out_without_a_redirect_to_the_login_page(client, ent_a):
    client.force_login(ent_a)
    set_last_seen(client, 1801)
    response = client.get("/api/v1/does-not-exist/")
    assert response.status_code != 302
    assert "_auth_user_id" not in client.session


def test_idle_timeout_follows_the_setting(client, ent_a, settings):
    settings.SESSION_IDLE_TIMEOUT_S = 60
    client.force_login(ent_a)
    set_last_seen(client, 61)
    client.get("/admin/")
    assert "_auth_user_id" not in client.session


# A page's automatic refresh (the alarm board's poll) is no activity --------------------------------------
BOARD_POLL = "/monitoring/live/"


def poll(client):
    return client.get(BOARD_POLL, HTTP_X_MINESAFE_POLL="1")


def idle_seconds(client) -> float:
    return time.time() - client.session["last_seen"]


def test_the_boards_poll_does_not_restart_the_idle_clock(client, ent_a):
    client.force_login(ent_a)
    set_last_seen(client, 1000)
    for _ in range(3):
        assert poll(client).status_code == 200
    assert idle_seconds(client) >= 1000
    assert client.session.get("_auth_user_id") == str(ent_a.pk)


def test_a_poll_after_the_idle_timeout_logs_out_and_points_to_the_login_page(client, ent_a):
    client.force_login(ent_a)
    set_last_seen(client, 1700)
    assert poll(client).status_code == 200  # still in time, and the poll does not extend it ...
    set_last_seen(client, 1801)  # ... so without a person's request the session times out during polling
    response = poll(client)
    assert response.status_code == 302
    path, _, query = response.url.partition("?")
    assert path == LOGIN_URL
    assert parse_qs(query) == {"next": [BOARD_POLL], "timeout": ["1"]}
    assert "_auth_user_id" not in client.session


def test_a_persons_request_between_polls_still_restarts_the_idle_clock(client, ent_a):
    client.force_login(ent_a)
    set_last_seen(client, 1000)
    poll(client)
    assert idle_seconds(client) >= 1000
    assert client.get("/monitoring/").status_code == 200  # the board page itself, opened by the person
    assert idle_seconds(client) < 60
    client.get(BOARD_POLL)  # the same address without the header is a person's request
    set_last_seen(client, 1000)
    client.get(BOARD_POLL)
    assert idle_seconds(client) < 60


def test_a_poll_as_the_sessions_first_request_starts_the_idle_clock(client, ent_a):
    client.force_login(ent_a)
    assert "last_seen" not in client.session
    poll(client)
    assert idle_seconds(client) < 60  # otherwise a session that only ever polls would never time out
