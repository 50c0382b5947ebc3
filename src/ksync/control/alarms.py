"""The alarm service: define, change and forget alarm rules, read their event history,
and send test events.

Every face calls these functions (the REST API, and through it the console and the CLI)
and answers their typed errors in its own words: `InvalidField` for a webhook or task the
state makes wrong, `LimitExceeded` (a 409) when the rule cap is reached, `NotFound`. A change that
fails validation raises pydantic's `ValidationError`, naming the fields, as the edge
would for a create.

Rules:
* A webhook must reach a public address (or one the operator allows) when the rule is
  saved; delivery checks again, since where a name resolves can change.
* A rule names an existing task, or none (every task).
* At most `max_rules` rules exist: each is evaluated against every task every couple of
  seconds, so their number is the operator's to raise.
* Deleting a rule resolves what it had firing ("the rule was deleted"), so receivers do
  not keep an incident open forever; its event history stays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ksync.domain.alarms import AlarmEventView, AlarmRuleSpec, AlarmRuleView
from ksync.domain.errors import InvalidField, LimitExceeded, NotFound
from ksync.monitoring.alarms.delivery import deliver_event
from ksync.monitoring.alarms.evaluation import evaluate_rule, test_event
from ksync.monitoring.alarms.snapshot import TaskSnapshot
from ksync.monitoring.alarms.test_budget import check_test_budget
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.alarms.webhooks import WebhookDispatcher
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

# The operator's setting that caps the number of rules, and the server option setting it.
CAP_SETTING = "max_alarm_rules"
CAP_OPTION = "--max-alarm-rules"


def check_webhooks(policy: WebhookPolicy, urls: list[str]) -> None:
    """Every webhook must reach a public (or allowed) address now; `InvalidField`
    naming the first that does not."""
    for i, url in enumerate(urls):
        problem = policy.url_problem(url)
        if problem is not None:
            raise InvalidField(f"webhooks[{i}]", f"'{url}': {problem}")


def _check_task(store: Store, task_id: str | None) -> None:
    if task_id is None:
        return
    try:
        store.tasks.get(task_id)
    except NotFound:
        raise InvalidField("task_id", f"task {task_id} does not exist (null: every task)") from None


def create(
    store: Store, spec: AlarmRuleSpec, policy: WebhookPolicy, max_rules: int
) -> AlarmRuleView:
    """Define a rule over one task (`task_id`) or every task; `LimitExceeded` when
    `max_rules` rules exist already."""
    alarms = AlarmStore(store)
    count = alarms.count_rules()
    if count >= max_rules:
        raise LimitExceeded(
            f"there are {count} alarm rules, the most this server allows ({CAP_SETTING} = "
            f"{max_rules}): delete rules you no longer need, or start the server with a "
            f"larger {CAP_OPTION}",
            option=CAP_OPTION,
        )
    check_webhooks(policy, spec.webhooks)
    _check_task(store, spec.task_id)
    return alarms.add_rule(spec)


def rules(store: Store) -> list[AlarmRuleView]:
    """Every rule, oldest first."""
    return AlarmStore(store).list_rules()


def get(store: Store, rule_id: str) -> AlarmRuleView:
    """One rule; `NotFound` if there is none with this id."""
    return AlarmStore(store).get_rule(rule_id)


def update(
    store: Store, rule_id: str, changes: Mapping[str, Any], policy: WebhookPolicy
) -> AlarmRuleView:
    """Change a rule: `changes` holds the fields to replace (AlarmRuleSpec's names).
    Changing `metric` resets comparison, threshold and status to what `changes` gives (or
    their defaults). Checked like a create; conditions building up start again."""
    alarms = AlarmStore(store)
    current = alarms.get_rule(rule_id).spec.model_dump()
    if "metric" in changes and changes["metric"] != current["metric"]:
        for key in ("comparison", "threshold", "status"):
            current.pop(key)
    spec = AlarmRuleSpec.model_validate({**current, **changes})
    if "webhooks" in changes:
        check_webhooks(policy, spec.webhooks)
    if "task_id" in changes:
        _check_task(store, spec.task_id)
    return alarms.replace_rule(rule_id, spec)


def delete(store: Store, rule_id: str, dispatcher: WebhookDispatcher) -> None:
    """Forget a rule; what it had firing resolves, and the resolve events go to its
    webhooks through `dispatcher` (the call does not wait for them)."""
    alarms = AlarmStore(store)
    gone = alarms.delete_rule(rule_id)
    if not gone.firing:
        return
    tasks = [TaskSnapshot.of(t) for t in store.tasks.all()]
    _, events = evaluate_rule(
        gone.rule, False, tasks, datetime.now(UTC), gone.state, "the rule was deleted"
    )
    for event in events:
        stored = alarms.add_event(event, gone.spec.webhooks)
        deliver_event(alarms, dispatcher, stored.id, gone.spec.webhooks, dict(stored.payload))


def send_test(
    store: Store, rule_id: str, dispatcher: WebhookDispatcher, per_minute: int
) -> AlarmEventView:
    """Send a `test` event to the rule's webhooks now (enabled or not); the stored event
    returns at once, its `delivery` fills in as receivers answer. `RateLimited` past
    `per_minute` test events of the rule in the last minute (nothing sent then)."""
    alarms = AlarmStore(store)
    rule = alarms.get_rule(rule_id)
    check_test_budget(alarms, rule_id, per_minute, datetime.now(UTC))
    task = None
    if rule.spec.task_id is not None:
        try:
            task = TaskSnapshot.of(store.tasks.get(rule.spec.task_id))
        except NotFound:
            task = None  # the event says the task is gone
    stored = alarms.add_event(test_event(rule.rule, task, datetime.now(UTC)), rule.spec.webhooks)
    deliver_event(alarms, dispatcher, stored.id, rule.spec.webhooks, dict(stored.payload))
    return stored


def events(
    store: Store, rule_id: str | None = None, task_id: str | None = None, limit: int = 100
) -> list[AlarmEventView]:
    """Firing, resolved and test events, newest first, optionally of one rule or task."""
    return AlarmStore(store).events(rule_id, task_id, limit)
