"""Outbox rows past their attempts: the sweep gives up on them, an admin sees them (the
admin's list, filtered by state, and a warning over it) and sends them again (the admin's
action or `manage.py outbox_resend`)."""

import datetime as dt
import logging

import pytest
import redis
from django.core.management import CommandError, call_command
from django.utils import timezone

from leads.roles import ADMIN
from outbox.models import PendingTask
from outbox.selectors import pending_tasks_dead
from outbox.services import pending_tasks_send
from tests.services import broker_at, free_port


@pytest.fixture
def rows(db, settings):
    now = timezone.now()
    long_ago = now - dt.timedelta(seconds=settings.HANDOFF_OUTBOX_LEASE_SECONDS + 1)
    most = settings.HANDOFF_OUTBOX_MAX_ATTEMPTS
    made = {
        "waiting": PendingTask(task="dashboards.refresh_facts", args=[[1]], created_at=now),
        "in flight": PendingTask(
            task="dashboards.refresh_facts", args=[[2]], sent_at=now, attempts=1
        ),
        "last try in flight": PendingTask(
            task="dashboards.refresh_facts", args=[[3]], sent_at=now, attempts=most
        ),
        "dead": PendingTask(
            task="dashboards.refresh_facts", args=[[4]], sent_at=long_ago, attempts=most
        ),
        "dead too": PendingTask(
            task="nurture.tick", created_at=long_ago, sent_at=long_ago, attempts=most + 3
        ),
    }
    PendingTask.objects.bulk_create(made.values())
    return made


@pytest.fixture
def admin_client(client, make_user):
    """An admin as `seed_demo` makes one: staff and superuser, in the admin group."""
    client.force_login(make_user("root", ADMIN, is_staff=True, is_superuser=True))
    return client


def queued(server) -> int:
    return redis.Redis(port=server.port).llen("celery")


def test_it_counts_as_dead_only_rows_whose_last_attempt_outlived_the_lease(rows):
    assert set(pending_tasks_dead()) == {rows["dead"], rows["dead too"]}


def test_the_sweep_leaves_dead_rows_and_says_so_in_the_log(rows, private_redis, caplog):
    with caplog.at_level(logging.ERROR, logger="outbox.services"):
        assert pending_tasks_send() == 0
    assert queued(private_redis) == 0
    assert "2 task message(s) past their" in caplog.text
    assert "outbox_resend --all-dead" in caplog.text


def test_an_admin_filters_the_dead_rows_and_is_warned_of_them(rows, admin_client):
    page = admin_client.get("/admin/outbox/pendingtask/", {"state": "dead"})
    assert page.status_code == 200
    shown = {row.pk for row in page.context["cl"].result_list}
    assert shown == {rows["dead"].pk, rows["dead too"].pk}
    text = page.content.decode()
    assert "2 task messages are past their attempts" in text
    assert "Past its attempts" in text  # the state column and the filter's choice

    waiting = admin_client.get("/admin/outbox/pendingtask/", {"state": "waiting"})
    assert {row.pk for row in waiting.context["cl"].result_list} == {rows["waiting"].pk}


def test_the_admin_action_sends_the_chosen_rows_again(rows, admin_client, private_redis):
    dead = rows["dead"]
    page = admin_client.post(
        "/admin/outbox/pendingtask/",
        {"action": "send_again", "_selected_action": [dead.pk]},
        follow=True,
    )
    assert "1 task message sent again." in page.content.decode()
    assert queued(private_redis) == 1
    dead.refresh_from_db()
    assert dead.attempts == 1 and dead.sent_at > timezone.now() - dt.timedelta(minutes=1)
    assert set(pending_tasks_dead()) == {rows["dead too"]}


def test_outbox_resend_all_dead_sends_every_dead_row_and_no_other(rows, private_redis):
    before = {name: (row.sent_at, row.attempts) for name, row in rows.items()}
    call_command("outbox_resend", "--all-dead")

    assert queued(private_redis) == 2
    assert not pending_tasks_dead().exists()
    for name, row in rows.items():
        row.refresh_from_db()
        if name.startswith("dead"):
            assert row.attempts == 1, name
        else:
            assert (row.sent_at, row.attempts) == before[name], name
    # Counted from one again: the sweep looks after them if this send is lost too.
    later = timezone.now() + dt.timedelta(hours=2)
    assert pending_tasks_send(now=later) == 4  # the two resent and the two sent just now


def test_outbox_resend_by_id(rows, private_redis, capsys):
    call_command("outbox_resend", "--id", str(rows["dead too"].pk))
    assert "Sent 1 task message(s) again." in capsys.readouterr().out
    assert set(pending_tasks_dead()) == {rows["dead"]}
    assert redis.Redis(port=private_redis.port).llen("celery") == 1


def test_outbox_resend_says_what_is_wrong(rows):
    with pytest.raises(CommandError, match=r"--id ID .* or --all-dead"):
        call_command("outbox_resend")
    with pytest.raises(CommandError, match="No outbox row with id 999999"):
        call_command("outbox_resend", "--id", "999999")


def test_outbox_resend_with_the_broker_down_fails_and_keeps_the_rows_dead(rows):
    with (
        broker_at(f"redis://127.0.0.1:{free_port()}/0"),
        pytest.raises(CommandError, match="The broker refused"),
    ):
        call_command("outbox_resend", "--all-dead")
    assert set(pending_tasks_dead()) == {rows["dead"], rows["dead too"]}


def test_a_manager_in_the_admin_cannot_see_or_resend_the_outbox(rows, client, make_user):
    client.force_login(make_user("mgr", "manager", is_staff=True))
    assert client.get("/admin/outbox/pendingtask/").status_code == 403
    page = client.post(
        "/admin/outbox/pendingtask/",
        {"action": "send_again", "_selected_action": [rows["dead"].pk]},
    )
    assert page.status_code == 403
    assert set(pending_tasks_dead()) == {rows["dead"], rows["dead too"]}
