"""`/api/v1/alarms`: alarm rules over tasks, their event history, and test deliveries.

The controller evaluates the rules (see `ksync.monitoring.alarms`); the alarm service
(`ksync.control.alarms`) checks and stores them. These routes only parse, call it and
shape the answer. A test event is sent from this process, on a webhook dispatcher of its
own, and the request returns before any receiver answers.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, ValidationError

from ksync.api.deps import SettingsDep, StoreDep
from ksync.api.errors import documented
from ksync.control import alarms as service
from ksync.domain.alarms import AlarmEventView, AlarmRuleSpec, AlarmRuleView, Alert, Comparison
from ksync.domain.status import TaskStatus
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.alarms.webhooks import WebhookDispatcher

router = APIRouter(prefix="/api/v1/alarms", tags=["alarms"])

_dispatcher_lock = threading.Lock()


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


PolicyDep = Annotated[WebhookPolicy, Depends(get_policy)]
DispatcherDep = Annotated[WebhookDispatcher, Depends(get_dispatcher)]


# ---- shapes -----------------------------------------------------------------------------


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
    def of(cls, rule: AlarmRuleView) -> AlarmRuleOut:
        return cls(
            id=rule.id,
            **rule.spec.model_dump(),
            alerts=rule.alerts(),
            created_at=rule.created_at,
            updated_at=rule.updated_at,
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
    def of(cls, event: AlarmEventView) -> AlarmEventOut:
        return cls(
            id=event.id,
            rule_id=event.rule_id,
            task_id=event.task_id,
            kind=event.kind,
            at=event.at,
            payload=dict(event.payload),
            delivery=dict(event.delivery),
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


# ---- routes -----------------------------------------------------------------------------


@router.post("", status_code=201, response_model=AlarmRuleOut, responses=documented(409, 422))
def create_alarm(
    spec: AlarmRuleSpec, store: StoreDep, settings: SettingsDep, policy: PolicyDep
) -> AlarmRuleOut:
    """Define an alarm rule over one task (`task_id`) or every task (`task_id` null).
    Webhooks must reach public addresses (or ones the operator allows); 409 once the
    server holds `max_alarm_rules` rules."""
    return AlarmRuleOut.of(service.create(store, spec, policy, settings.max_alarm_rules))


@router.get("", response_model=AlarmRuleList)
def list_alarms(store: StoreDep) -> AlarmRuleList:
    """Every rule, with the alerts that are pending or firing now."""
    return AlarmRuleList(alarms=[AlarmRuleOut.of(r) for r in service.rules(store)])


@router.get("/events", response_model=AlarmEventList)
def alarm_events(
    store: StoreDep,
    rule_id: str | None = None,
    task_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlarmEventList:
    """Firing, resolved and test events, newest first (kept 30 days), with how each
    webhook delivery went."""
    return AlarmEventList(
        events=[AlarmEventOut.of(e) for e in service.events(store, rule_id, task_id, limit)]
    )


@router.get("/{rule_id}", response_model=AlarmRuleOut, responses=documented(404))
def get_alarm(rule_id: str, store: StoreDep) -> AlarmRuleOut:
    """One rule, or 404."""
    return AlarmRuleOut.of(service.get(store, rule_id))


@router.patch("/{rule_id}", response_model=AlarmRuleOut, responses=documented(404, 422))
def update_alarm(
    rule_id: str, patch: AlarmRulePatch, store: StoreDep, policy: PolicyDep
) -> AlarmRuleOut:
    """Change a rule (checked like a create). Conditions building up start again; alarms
    that fired resolve at the next evaluation if the new condition does not hold."""
    try:
        rule = service.update(store, rule_id, patch.model_dump(exclude_unset=True), policy)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return AlarmRuleOut.of(rule)


@router.delete("/{rule_id}", status_code=204, responses=documented(404))
def delete_alarm(rule_id: str, store: StoreDep, dispatcher: DispatcherDep) -> Response:
    """Forget a rule. Its event history stays; what it had firing is resolved ("the rule
    was deleted"), so receivers do not keep an incident open forever."""
    service.delete(store, rule_id, dispatcher)
    return Response(status_code=204)


@router.post(
    "/{rule_id}/test", status_code=202, response_model=AlarmEventOut, responses=documented(404, 429)
)
def test_alarm(
    rule_id: str, store: StoreDep, dispatcher: DispatcherDep, settings: SettingsDep
) -> AlarmEventOut:
    """Send a `test` event to the rule's webhooks now (enabled or not). Returns the stored
    event at once; its `delivery` fills in as receivers answer (see `/alarms/events`).
    429 with Retry-After past `--max-test-events-per-minute` test events of the rule."""
    return AlarmEventOut.of(
        service.send_test(store, rule_id, dispatcher, settings.max_test_events_per_minute)
    )
