"""Alarm rules without brokers: the spec's validation and the pure evaluator (fires after
its duration, once; resolves; per task; every metric)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from pydantic import ValidationError

from ksync.domain.alarms import AlarmRule, AlarmRuleSpec
from ksync.monitoring.alarms.evaluation import evaluate, evaluate_rule
from ksync.monitoring.alarms.messages import fmt_number
from ksync.monitoring.alarms.snapshot import METRICS_STALE_S

from .support import at, metrics, task

HOOK = "http://127.0.0.1:9/hook"


def rule(rule_id: str = "alarm-aaaaaaaa", **fields: Any) -> AlarmRule:
    body: dict[str, Any] = {"name": "r", "webhooks": [HOOK], **fields}
    return AlarmRule(rule_id, AlarmRuleSpec.model_validate(body))


def lag_rule(**fields: Any) -> AlarmRule:
    return rule(**{"metric": "lag", "comparison": ">", "threshold": 10_000, "duration_s": 60, **fields})


def run(r: AlarmRule, timeline: Sequence[tuple[float, Any]]) -> list[tuple[float, str]]:
    """Evaluate `r` against one task at each (second, TaskSnapshot); the events as
    (second, kind)."""
    state: dict[str, Any] = {}
    out: list[tuple[float, str]] = []
    for second, snap in timeline:
        state, events = evaluate_rule(r, True, [snap], at(second), state)
        out += [(second, e.kind) for e in events]
    return out


def lagging(second: float, lag: int, **kw: Any) -> Any:
    return task(metrics=metrics(at(second), lag=lag), **kw)


# ---- the spec ------------------------------------------------------------------------------


def test_defaults_per_metric() -> None:
    error = rule(metric="error").spec
    assert (error.comparison, error.threshold) == ("==", 1.0)
    status = rule(metric="status", status="Failed").spec
    assert (status.comparison, status.threshold, status.target) == ("==", None, "Failed")
    assert rule(metric="stalled", duration_s=300).spec.target == 1.0


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"metric": "cpu"}, "unknown metric 'cpu'; allowed: status, error, lag, latency_p99, records_per_s, stalled"),
        ({"metric": "lag", "comparison": ">", "threshold": 1, "duration_s": -1}, "greater than or equal to 0"),
        ({"metric": "lag", "threshold": 1}, "comparison is required with metric 'lag'"),
        ({"metric": "lag", "comparison": ">"}, "threshold is required with metric 'lag'"),
        ({"metric": "lag", "comparison": "=>", "threshold": 1}, "'>', '>=', '<', '<=', '==' or '!='"),
        ({"metric": "status"}, "status is required with metric 'status'"),
        ({"metric": "status", "status": "Broken"}, "'Unassigned', 'Running', 'Paused', 'Failed' or 'Terminating'"),
        ({"metric": "status", "status": "Failed", "comparison": ">"}, "'==' or '!='"),
        ({"metric": "status", "status": "Failed", "threshold": 1}, "threshold is not allowed"),
        ({"metric": "error", "status": "Failed"}, "status is only allowed with metric 'status'"),
        ({"metric": "error", "webhooks": []}, "at least 1 item"),
        ({"metric": "error", "webhooks": [HOOK + str(i) for i in range(11)]}, "at most 10 items"),
        ({"metric": "error", "webhooks": [HOOK, "ftp://example.com/x"]}, "webhooks[1] 'ftp://example.com/x' must be an http:// or https:// URL"),
        ({"metric": "error", "webhooks": ["http:///nohost"]}, "webhooks[0] 'http:///nohost' has no host"),
        ({"metric": "error", "webhooks": ["http://h:99999/"]}, "webhooks[0] 'http://h:99999/' is not a valid URL"),
        ({"metric": "error", "webhooks": [HOOK, HOOK]}, "webhooks[1] 'http://127.0.0.1:9/hook' repeats webhooks[0]"),
        ({"metric": "error", "colour": "red"}, "Extra inputs are not permitted"),
        ({"metric": "lag", "comparison": ">", "threshold": float("nan")}, "finite number"),
    ],
)
def test_invalid_rules_are_refused_with_the_field_and_what_is_allowed(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError) as info:
        rule(**fields)
    assert words in str(info.value)


def test_the_spec_is_frozen() -> None:
    spec = lag_rule().spec
    with pytest.raises(ValidationError):
        spec.threshold = 3  # type: ignore[misc]


def test_numbers_read_like_a_person_wrote_them() -> None:
    assert [fmt_number(v) for v in (12345.0, 0.5, 812.3456, 0.0, 1e6)] == ["12,345", "0.5", "812.35", "0", "1,000,000"]


# ---- firing and resolving -------------------------------------------------------------------


def test_fires_once_after_the_duration_and_resolves_when_it_stops_holding() -> None:
    r = lag_rule()
    timeline = [(s, lagging(s, 12_345)) for s in range(0, 130, 2)] + [(130, lagging(130, 12)), (132, lagging(132, 12))]
    assert run(r, timeline) == [(60, "firing"), (130, "resolved")]


def test_does_not_fire_before_the_duration() -> None:
    r = lag_rule()
    assert run(r, [(s, lagging(s, 20_000)) for s in range(0, 59, 2)]) == []


def test_an_interruption_restarts_the_duration() -> None:
    r = lag_rule()
    timeline = [(s, lagging(s, 20_000)) for s in range(0, 40, 2)]
    timeline += [(40, lagging(40, 5))]
    timeline += [(s, lagging(s, 20_000)) for s in range(42, 110, 2)]
    assert run(r, timeline) == [(102, "firing")]


def test_zero_duration_fires_at_the_first_evaluation() -> None:
    r = lag_rule(duration_s=0)
    assert run(r, [(0, lagging(0, 10_001)), (2, lagging(2, 10_001))]) == [(0, "firing")]


def test_the_firing_and_resolved_events_carry_the_agreed_payload() -> None:
    r = lag_rule()
    state, first = evaluate(r, lagging(0, 12_345), at(0), None)
    assert first is None and state is not None
    state, fired = evaluate(r, lagging(60, 12_345), at(60), state)
    assert fired is not None and state is not None
    assert fired.kind == "firing" and fired.task_id == "task-aaaaaaaa"
    assert fired.payload == {
        "event": "firing",
        "rule": {"id": "alarm-aaaaaaaa", "name": "r", "metric": "lag", "comparison": ">", "threshold": 10_000.0, "duration_s": 60.0},
        "task": {"id": "task-aaaaaaaa", "name": "orders-to-sh", "status": "Running", "error": None},
        "value": 12_345,
        "threshold": 10_000.0,
        "since": "2025-01-01T12:00:00Z",
        "at": "2025-01-01T12:01:00Z",
        "message": "Task orders-to-sh (task-aaaaaaaa): lag 12,345 records > 10,000 for 60 s",
    }
    state, resolved = evaluate(r, lagging(90, 40), at(90), state)
    assert state is None and resolved is not None
    assert resolved.payload["event"] == "resolved"
    assert resolved.payload["since"] == "2025-01-01T12:00:00Z"
    assert resolved.payload["at"] == "2025-01-01T12:01:30Z"
    assert resolved.payload["value"] == 40
    assert resolved.payload["message"] == (
        "Task orders-to-sh (task-aaaaaaaa): resolved, lag 40 records (rule: lag > 10,000 records for 60 s)"
    )


def test_state_does_not_change_while_nothing_changes() -> None:
    """So the store is written on transitions only, not at every evaluation."""
    r = lag_rule()
    state, _ = evaluate(r, lagging(0, 20_000), at(0), None)
    again, event = evaluate(r, lagging(2, 25_000), at(2), state)
    assert again == state and event is None


def test_a_rule_over_every_task_keeps_each_task_apart() -> None:
    r = lag_rule(duration_s=10)
    a, b = "task-aaaaaaaa", "task-bbbbbbbb"
    state: dict[str, Any] = {}
    kinds = []
    for s in range(0, 40, 2):
        snaps = [
            task(a, "a", metrics=metrics(at(s), lag=50_000)),
            task(b, "b", metrics=metrics(at(s), lag=50_000 if s >= 20 else 0)),
        ]
        state, events = evaluate_rule(r, True, snaps, at(s), state)
        kinds += [(s, e.task_id, e.kind) for e in events]
    assert kinds == [(10, a, "firing"), (30, b, "firing")]
    assert set(state) == {a, b}


def test_a_rule_for_one_task_ignores_the_others() -> None:
    r = lag_rule(task_id="task-bbbbbbbb", duration_s=0)
    snaps = [task("task-aaaaaaaa", metrics=metrics(at(0), lag=99_999)), task("task-bbbbbbbb", metrics=metrics(at(0), lag=1))]
    state, events = evaluate_rule(r, True, snaps, at(0), {})
    assert state == {} and events == []


def test_status_rules() -> None:
    failed = rule(metric="status", status="Failed")
    timeline = [
        (0, task(status="Running")),
        (2, task(status="Failed", error="target topic t has 1 partitions but source topic t has 3")),
        (4, task(status="Failed", error="target topic t has 1 partitions but source topic t has 3")),
        (6, task(status="Running")),
    ]
    assert run(failed, timeline) == [(2, "firing"), (6, "resolved")]
    _, fired = evaluate(failed, timeline[1][1], at(2), None)
    assert fired is not None
    assert fired.payload["value"] == "Failed" and fired.payload["threshold"] == "Failed"
    assert fired.payload["message"] == (
        "Task orders-to-sh (task-aaaaaaaa): status is Failed: "
        "target topic t has 1 partitions but source topic t has 3"
    )
    not_running = rule(metric="status", status="Running", comparison="!=", duration_s=30)
    timeline = [(s, task(status="Unassigned")) for s in range(0, 34, 2)] + [(34, task(status="Running"))]
    assert run(not_running, timeline) == [(30, "firing"), (34, "resolved")]
    _, fired = evaluate(not_running, task(status="Paused"), at(0), None)
    assert fired is None


def test_error_rules_fire_while_the_task_has_an_error() -> None:
    r = rule(metric="error")
    timeline = [(0, task()), (2, task(status="Failed", error="bad credentials")), (4, task())]
    assert run(r, timeline) == [(2, "firing"), (4, "resolved")]
    _, fired = evaluate(r, task(status="Failed", error="bad credentials"), at(0), None)
    assert fired is not None and fired.payload["value"] == 1
    assert fired.payload["message"] == "Task orders-to-sh (task-aaaaaaaa): has had an error: bad credentials"


def test_stalled_means_no_records_copied_while_the_source_has_traffic() -> None:
    r = rule(metric="stalled", duration_s=10)

    def snap(s: float, copied: float, offered: float) -> Any:
        return task(metrics=metrics(at(s), records_per_s=copied, source_records_per_s=offered))

    timeline = [(s, snap(s, 0, 500)) for s in range(0, 12, 2)] + [(12, snap(12, 480, 500))]
    assert run(r, timeline) == [(10, "firing"), (12, "resolved")]
    state, _ = evaluate(r, snap(0, 0, 500), at(0), None)
    state, _ = evaluate(r, snap(10, 0, 500), at(10), state)
    _, resolved = evaluate(r, snap(12, 480, 500), at(12), state)
    assert resolved is not None
    assert resolved.payload["message"] == (
        "Task orders-to-sh (task-aaaaaaaa): resolved, not stalled (rule: stalled for 10 s)"
    )
    # An idle source is not a stall.
    assert run(r, [(s, snap(s, 0, 0)) for s in range(0, 30, 2)]) == []
    state, _ = evaluate(r, snap(0, 0, 1234), at(0), None)
    _, fired = evaluate(r, snap(10, 0, 1234), at(10), state)
    assert fired is not None
    assert fired.payload["message"] == (
        "Task orders-to-sh (task-aaaaaaaa): copies no records while its source has traffic "
        "(1,234 records/s) for 10 s"
    )


def test_latency_and_rate_rules() -> None:
    slow = rule(metric="latency_p99", comparison=">", threshold=500, duration_s=4)

    def lat(s: float, p99: float | None) -> Any:
        return task(metrics=metrics(at(s), latency_ms={"p50": 1.0, "p99": p99, "max": p99}))

    assert run(slow, [(0, lat(0, 812.3456)), (2, lat(2, 900)), (4, lat(4, 700)), (6, lat(6, 100))]) == [
        (4, "firing"),
        (6, "resolved"),
    ]
    state, _ = evaluate(slow, lat(0, 812.3456), at(0), None)
    _, fired = evaluate(slow, lat(4, 812.3456), at(4), state)
    assert fired is not None
    assert fired.payload["message"] == "Task orders-to-sh (task-aaaaaaaa): p99 latency 812.35 ms > 500 for 4 s"
    # No latency samples (nothing copied) is no data, not a breach.
    assert run(slow, [(0, lat(0, None))]) == []

    trickle = rule(metric="records_per_s", comparison="<", threshold=10)
    _, fired = evaluate(trickle, task(metrics=metrics(at(0), records_per_s=0.5)), at(0), None)
    assert fired is not None
    assert fired.payload["message"] == "Task orders-to-sh (task-aaaaaaaa): copy rate 0.5 records/s < 10"


def test_no_data_is_not_a_breach_and_resolves_what_fired() -> None:
    r = rule(metric="records_per_s", comparison="<", threshold=10)
    new_task = task(metrics=None)
    assert run(r, [(0, new_task)]) == []
    stale = task(metrics=metrics(at(0), records_per_s=0))
    assert run(r, [(0, stale), (METRICS_STALE_S + 1, stale)]) == [(0, "firing"), (METRICS_STALE_S + 1, "resolved")]
    paused = task(status="Paused", desired="paused", metrics=metrics(at(2), records_per_s=0, source_records_per_s=50))
    assert run(r, [(0, stale), (2, paused)]) == [(0, "firing"), (2, "resolved")]
    assert run(rule(metric="stalled"), [(2, paused)]) == []


def test_a_deleted_task_a_retargeted_or_disabled_rule_resolves_what_fired() -> None:
    r = lag_rule(duration_s=0)
    firing, events = evaluate_rule(r, True, [lagging(0, 50_000)], at(0), {})
    assert [e.kind for e in events] == ["firing"]

    state, events = evaluate_rule(r, True, [], at(2), firing)
    assert state == {} and [e.kind for e in events] == ["resolved"]
    assert events[0].payload["message"] == (
        "Task task-aaaaaaaa: resolved, the task was deleted (rule: lag > 10,000 records)"
    )
    assert events[0].payload["task"] == {"id": "task-aaaaaaaa", "name": None, "status": None}

    state, events = evaluate_rule(r, False, [lagging(2, 50_000)], at(2), firing)
    assert state == {} and [e.payload["message"] for e in events] == [
        "Task orders-to-sh (task-aaaaaaaa): resolved, the rule was disabled (rule: lag > 10,000 records)"
    ]

    other = lag_rule(duration_s=0, task_id="task-bbbbbbbb")
    state, events = evaluate_rule(other, True, [lagging(2, 50_000)], at(2), firing)
    assert state == {} and "no longer covers this task" in events[0].payload["message"]

    # A pending (not yet fired) entry just goes, silently.
    slow = lag_rule(duration_s=60)
    pending, _ = evaluate_rule(slow, True, [lagging(0, 50_000)], at(0), {})
    assert evaluate_rule(slow, False, [lagging(2, 50_000)], at(2), pending) == ({}, [])


def test_a_records_lost_rule_fires_while_the_last_window_lost_records_and_resolves_after() -> None:
    r = rule(metric="records_lost", comparison=">", threshold=0)

    def snap(s: float, lost: int) -> Any:
        return task(metrics=metrics(at(s), lost_records=lost, lost_records_total=60))

    timeline = [(0, snap(0, 0)), (2, snap(2, 60)), (4, snap(4, 60)), (12, snap(12, 0))]
    assert run(r, timeline) == [(2, "firing"), (12, "resolved")]
    _, fired = evaluate(r, snap(2, 60), at(2), None)
    assert fired is not None
    assert fired.payload["message"] == (
        "Task orders-to-sh (task-aaaaaaaa): lost to retention in the last 10 s: 60 records > 0"
    )
    # A task that does not report the count (metrics from before it existed) is no data.
    assert run(r, [(0, task(metrics=metrics(at(0))))]) == []
    with pytest.raises(ValidationError, match="threshold is required with metric 'records_lost'"):
        rule(metric="records_lost", comparison=">")
