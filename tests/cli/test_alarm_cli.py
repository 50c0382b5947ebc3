"""`ksync alarm …` against the API served in process (no broker: rules and events need
none): every command in both output formats, and the exit codes of a refused rule, an
unknown one and the rule cap."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from inprocess import app_on_store, serving

from ksync.domain.alarms import AlarmEvent
from ksync.spec import TaskSpec
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

from .test_cli import as_json, fails, ksync, ok

HOOK = "http://127.0.0.1:9/hook"


@dataclass(frozen=True)
class Api:
    url: str
    store: Store


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Api]:
    # Webhooks of these tests are on loopback, which the server refuses unless told.
    with app_on_store(tmp_path, webhook_allow=("127.0.0.0/8",), max_alarm_rules=2) as app, serving(app) as url:
        yield Api(url, app.state.store)


def test_create_list_show_edit_rm(local: Api) -> None:
    task = local.store.tasks.add(
        TaskSpec.model_validate({"name": "orders", "source": {"instance_id": "ins-a", "topics": ["o"]},
                                 "target": {"instance_id": "ins-b"}}), [],
    )
    out = ok(ksync(local.url, "alarm", "create", "lag-high", "--metric", "lag", "--comparison", ">",
                   "--threshold", "10000", "--for", "60", "-w", HOOK, "--task", task.id))
    assert out.startswith("created alarm-") and out.strip().endswith("(lag-high): lag > 10000 for 60 s")
    rule_id = out.split()[1]

    listed = ok(ksync(local.url, "alarm", "list"))
    assert listed.splitlines()[0].split() == ["ID", "NAME", "TASK", "CONDITION", "ENABLED", "ALERTS"]
    assert rule_id in listed and task.id in listed and "lag > 10000 for 60 s" in listed and " ok" in listed
    assert [r["id"] for r in as_json(ksync(local.url, "alarm", "list", "-o", "json"))["alarms"]] == [rule_id]

    shown = ok(ksync(local.url, "alarm", "show", rule_id))
    assert f"webhooks:   {HOOK}" in shown and "enabled:    yes" in shown

    changed = as_json(ksync(local.url, "alarm", "edit", rule_id, "--threshold", "500", "--disable", "-o", "json"))
    assert (changed["threshold"], changed["enabled"], changed["metric"]) == (500.0, False, "lag")
    status_rule = ok(ksync(local.url, "alarm", "edit", rule_id, "--metric", "status", "--status", "Failed"))
    assert status_rule.strip().endswith("status == Failed for 60 s")

    assert ok(ksync(local.url, "alarm", "rm", rule_id)).strip() == f"removed {rule_id}"
    assert "not exist" in fails(ksync(local.url, "alarm", "show", rule_id), 4)
    assert ok(ksync(local.url, "alarm", "list")).strip() == "no alarms"


def test_events_newest_first_and_filtered(local: Api) -> None:
    a = as_json(ksync(local.url, "alarm", "create", "a", "--metric", "error", "-w", HOOK, "-o", "json"))
    b = as_json(ksync(local.url, "alarm", "create", "b", "--metric", "error", "-w", HOOK, "-o", "json"))
    assert ok(ksync(local.url, "alarm", "events")).strip() == "no events"
    alarms = AlarmStore(local.store)
    for i, rule in enumerate((a, b, a)):
        at = datetime(2026, 1, 1, 12, 0, i, tzinfo=UTC)
        payload = {"event": "firing", "message": f"Task t{i}: has an error"}
        alarms.add_event(AlarmEvent(rule["id"], f"task-{i}", "firing", at, payload), [HOOK])

    table = ok(ksync(local.url, "alarm", "events")).splitlines()
    assert table[0].split() == ["ID", "AT", "KIND", "RULE", "TASK", "MESSAGE"]
    assert [line.split()[4] for line in table[1:]] == ["task-2", "task-1", "task-0"]
    assert table[1].endswith("Task t2: has an error")
    only_a = as_json(ksync(local.url, "alarm", "events", "--rule", a["id"], "-o", "json"))["events"]
    assert [e["task_id"] for e in only_a] == ["task-2", "task-0"]
    one = as_json(ksync(local.url, "alarm", "events", "--task", "task-1", "--limit", "1", "-o", "json"))["events"]
    assert [(e["rule_id"], e["kind"]) for e in one] == [(b["id"], "firing")]


def test_a_refused_rule_exits_1_naming_the_field_and_the_cap_names_its_option(local: Api) -> None:
    err = fails(ksync(local.url, "alarm", "create", "x", "--metric", "bogus", "-w", HOOK), 1)
    assert "422" in err and "unknown metric 'bogus'" in err and "lag" in err
    err = fails(ksync(local.url, "alarm", "create", "x", "--metric", "lag", "-w", HOOK), 1)
    assert "comparison is required with metric 'lag'" in err
    err = fails(ksync(local.url, "alarm", "create", "x", "--metric", "error", "-w", "http://10.1.2.3/h"), 1)
    assert "webhooks[0]" in err
    assert "--webhook" in fails(ksync(local.url, "alarm", "create", "x", "--metric", "error"), 2)
    assert "nothing to change" in fails(ksync(local.url, "alarm", "edit", "alarm-zzzzzzzz"), 2)
    assert "not exist" in fails(ksync(local.url, "alarm", "rm", "alarm-zzzzzzzz"), 4)

    for name in ("one", "two"):
        ok(ksync(local.url, "alarm", "create", name, "--metric", "error", "-w", HOOK))
    err = fails(ksync(local.url, "alarm", "create", "three", "--metric", "error", "-w", HOOK), 1)
    assert "409" in err and "max_alarm_rules = 2" in err and "--max-alarm-rules" in err


def test_the_server_option_for_the_rule_cap_is_checked_at_the_edge(tmp_path: Path) -> None:
    # Refused before anything starts: exit 2 naming the option.
    err = fails(ksync("http://127.0.0.1:9", "server", "--data-dir", str(tmp_path), "--max-alarm-rules", "0"), 2)
    assert "--max-alarm-rules" in err and "greater than or equal to 1" in err
    assert list(tmp_path.iterdir()) == []
