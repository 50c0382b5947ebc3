"""`/api/v1/alarms`: alarm rules over tasks, their event history, and test deliveries.

The controller evaluates the rules (see `ksync.monitoring.alarms`); these routes only
write rules and read what happened. A test event is sent from this process, on a webhook
dispatcher of its own, and the request returns before any receiver answers.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

from ksync.api.deps import SettingsDep, StoreDep
from ksync.api.errors import documented, invalid
from ksync.domain.alarms import AlarmRule, AlarmRuleSpec, Comparison
from ksync.domain.errors import NotFound
from ksync.domain.status import TaskStatus
from ksync.monitoring.alarms.delivery import deliver_event
from ksync.monitoring.alarms.evaluation import evaluate_rule, test_event
from ksync.monitoring.alarms.snapshot import TaskSnapshot
from ksync.monitoring.alarms.test_budget import check_test_budget
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.alarms.webhooks import WebhookDispatcher
from ksync.store.alarm_repo import AlarmStore, spec_of_row
from ksync.store.repo import Store, as_utc
from ksync.store.tables import AlarmEventRow, AlarmRuleRow

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])

_dispatcher_lock = threading.Lock()


def get_alarms(store: StoreDep) -> AlarmStore:
    return AlarmStore(store)


def get_policy(settings: SettingsDep) -> WebhookPolicy:
    return WebhookPolicy(settings.webhook_allow)


def get_dispatcher(request: Request) -> WebhookDispatcher:
    """The app's dispatcher for test events, started on first use."""
    state = request.app.state
    with _dispatcher_lock:
        if getattr(state, "alarm_webhooks", None) is None:
            state.alarm_webhooks = WebhookDispatcher(
                workers=4, name="alarm-test-webhook", policy=get_policy(state.settings)
            )
        return state.alarm_webhooks  # type: ignore[no-any-return]


AlarmsDep = Annotated[AlarmStore, Depends(get_alarms)]
PolicyDep = Annotated[WebhookPolicy, Depends(get_policy)]
DispatcherDep = Annotated[WebhookDispatcher, Depends(get_dispatcher)]


# ---- shapes -----------------------------------------------------------------------------


class Alert(BaseModel):
    """A rule's condition holding for one task: `pending` until `duration_s` has passed,
    then `firing`; `value` is the metric when it began to hold, or when it fired."""

    task_id: str
    state: str
    since: datetime
    firing_since: datetime | None
    value: float | str | None


class AlarmRuleOut(BaseModel):
    id: str
    name: str
    task_id: str | None
    metric: str
    comparison: Comparison
    threshold: float | None
    status: TaskStatus | None
    duration_s: float
    webhooks: list[str]
    enabled: bool
    alerts: list[Alert]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AlarmRuleRow) -> AlarmRuleOut:
        spec = spec_of_row(row)
        alerts = [
            Alert(
                task_id=task_id,
                state="firing" if entry.get("firing_since") else "pending",
                since=entry["pending_since"],
                firing_since=entry.get("firing_since"),
                value=entry.get("value"),
            )
            for task_id, entry in sorted((row.state or {}).items())
        ]
        return cls(
            id=row.id,
            **spec.model_dump(),
            alerts=alerts,
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
        )


class AlarmRuleList(BaseModel):
    alarms: list[AlarmRuleOut]


class AlarmEventOut(BaseModel):
    id: int
    rule_id: str
    task_id: str | None
    kind: str
    at: datetime
    payload: dict[str, Any]
    # Per webhook URL: {"status": HTTP status or null, "attempts", "error", "pending"}.
    delivery: dict[str, Any]

    @classmethod
    def of(cls, row: AlarmEventRow) -> AlarmEventOut:
        return cls(
            id=row.id,
            rule_id=row.rule_id,
            task_id=row.task_id,
            kind=row.kind,
            at=as_utc(row.at),
            payload={"id": row.id, **row.payload},
            delivery=row.delivery,
        )


class AlarmEventList(BaseModel):
    events: list[AlarmEventOut]


class AlarmRulePatch(BaseModel):
    """Fields to change. Changing `metric` resets comparison, threshold and status to
    what the request gives (or their defaults)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    task_id: str | None = None
    metric: str | None = None
    comparison: Comparison | None = None
    threshold: float | None = None
    status: TaskStatus | None = None
    duration_s: float | None = None
    webhooks: list[str] | None = None
    enabled: bool | None = None


def _check_webhooks(policy: WebhookPolicy, urls: list[str]) -> None:
    """Every webhook must reach a public address now (delivery checks again)."""
    for i, url in enumerate(urls):
        problem = policy.url_problem(url)
        if problem is not None:
            raise invalid(f"webhooks[{i}]", f"'{url}': {problem}")


def _check_task(store: Store, task_id: str | None) -> None:
    if task_id is None:
        return
    try:
        store.tasks.get(task_id)
    except NotFound:
        raise invalid("task_id", f"task {task_id} does not exist (null: every task)") from None


# ---- routes -----------------------------------------------------------------------------


@router.post("", status_code=201, response_model=AlarmRuleOut, responses=documented(422))
def create_alarm(
    spec: AlarmRuleSpec, store: StoreDep, alarms: AlarmsDep, policy: PolicyDep
) -> AlarmRuleOut:
    """Define an alarm rule over one task (`task_id`) or every task (`task_id` null).
    Webhooks must reach public addresses (or ones the operator allows)."""
    _check_webhooks(policy, spec.webhooks)
    _check_task(store, spec.task_id)
    return AlarmRuleOut.of(alarms.add_rule(spec))


@router.get("", response_model=AlarmRuleList)
def list_alarms(alarms: AlarmsDep) -> AlarmRuleList:
    """Every rule, with the alerts that are pending or firing now."""
    return AlarmRuleList(alarms=[AlarmRuleOut.of(r) for r in alarms.list_rules()])


@router.get("/events", response_model=AlarmEventList)
def alarm_events(
    alarms: AlarmsDep,
    rule_id: str | None = None,
    task_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlarmEventList:
    """Firing, resolved and test events, newest first (kept 30 days), with how each
    webhook delivery went."""
    return AlarmEventList(
        events=[AlarmEventOut.of(e) for e in alarms.events(rule_id, task_id, limit)]
    )


@router.get("/{rule_id}", response_model=AlarmRuleOut, responses=documented(404))
def get_alarm(rule_id: str, alarms: AlarmsDep) -> AlarmRuleOut:
    """One rule, or 404."""
    return AlarmRuleOut.of(alarms.get_rule(rule_id))


@router.patch("/{rule_id}", response_model=AlarmRuleOut, responses=documented(404, 422))
def update_alarm(
    rule_id: str, patch: AlarmRulePatch, store: StoreDep, alarms: AlarmsDep, policy: PolicyDep
) -> AlarmRuleOut:
    """Change a rule (checked like a create). Conditions building up start again; alarms
    that fired resolve at the next evaluation if the new condition does not hold."""
    row = alarms.get_rule(rule_id)
    current = spec_of_row(row).model_dump()
    changes = patch.model_dump(exclude_unset=True)
    if "metric" in changes and changes["metric"] != current["metric"]:
        for key in ("comparison", "threshold", "status"):
            current.pop(key)
    try:
        spec = AlarmRuleSpec.model_validate({**current, **changes})
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    if "webhooks" in changes:
        _check_webhooks(policy, spec.webhooks)
    if "task_id" in changes:
        _check_task(store, spec.task_id)
    return AlarmRuleOut.of(alarms.replace_rule(rule_id, spec))


@router.delete("/{rule_id}", status_code=204, responses=documented(404))
def delete_alarm(
    rule_id: str, store: StoreDep, alarms: AlarmsDep, dispatcher: DispatcherDep
) -> Response:
    """Forget a rule. Its event history stays; what it had firing is resolved ("the rule
    was deleted"), so receivers do not keep an incident open forever."""
    row = alarms.delete_rule(rule_id)
    if any(entry.get("firing_since") for entry in (row.state or {}).values()):
        tasks = [TaskSnapshot.of(t) for t in store.tasks.all()]
        rule = AlarmRule(row.id, spec_of_row(row))
        _, events = evaluate_rule(
            rule, False, tasks, datetime.now(UTC), row.state, "the rule was deleted"
        )
        for event in events:
            stored = alarms.add_event(event, rule.spec.webhooks)
            deliver_event(alarms, dispatcher, stored.id, rule.spec.webhooks, stored.payload)
    return Response(status_code=204)


@router.post(
    "/{rule_id}/test", status_code=202, response_model=AlarmEventOut, responses=documented(404, 429)
)
def test_alarm(
    rule_id: str, store: StoreDep, alarms: AlarmsDep, dispatcher: DispatcherDep, settings: SettingsDep
) -> AlarmEventOut:
    """Send a `test` event to the rule's webhooks now (enabled or not). Returns the stored
    event at once; its `delivery` fills in as receivers answer (see `/alarms/events`).
    429 with Retry-After past `--max-test-events-per-minute` test events of the rule."""
    row = alarms.get_rule(rule_id)
    check_test_budget(alarms, rule_id, settings.max_test_events_per_minute, datetime.now(UTC))
    spec = spec_of_row(row)
    task = None
    if spec.task_id is not None:
        try:
            task = TaskSnapshot.of(store.tasks.get(spec.task_id))
        except NotFound:
            task = None
    event = test_event(AlarmRule(row.id, spec), task, datetime.now(UTC))
    stored = alarms.add_event(event, spec.webhooks)
    deliver_event(alarms, dispatcher, stored.id, spec.webhooks, stored.payload)
    return AlarmEventOut.of(stored)
