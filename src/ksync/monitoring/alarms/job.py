"""The controller's alarm job: every couple of seconds, evaluate every rule against the
tasks (`evaluation`), store the new state together with the events in one transaction,
and hand each event to the webhook dispatcher (never blocking the controller on HTTP).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ksync.domain.alarms import AlarmRuleView
from ksync.monitoring.alarms.delivery import deliver_event
from ksync.monitoring.alarms.evaluation import evaluate_rule
from ksync.monitoring.alarms.snapshot import TaskSnapshot
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.alarms.webhooks import WebhookDispatcher
from ksync.store.alarm_repo import AlarmStore
from ksync.store.repo import Store

log = logging.getLogger(__name__)


@dataclass
class AlarmEvaluator:
    """The controller's alarm job: every `interval_s` (the controller may tick faster),
    evaluate every rule against the tasks, store state and events together, and send the
    events through the webhook dispatcher's own threads.

    Register `(evaluator.name, evaluator.run_due)` as a controller periodic job;
    `run_once()` evaluates now. On its first run after a start or a takeover it sends
    again the deliveries of the last `redeliver_window_s` that never finished (a webhook
    receiver may so see an event twice: events carry an `id`).
    """

    store: Store
    interval_s: float = 2.0
    dispatcher: WebhookDispatcher | None = None
    # Where the default dispatcher may send (public addresses only unless allowed).
    policy: WebhookPolicy = field(default_factory=WebhookPolicy)
    redeliver_window_s: float = 600.0
    event_retention_s: float = 30 * 86_400.0
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    name: str = "alarms"
    alarms: AlarmStore = field(init=False)
    _last_run: float = field(init=False, default=-math.inf)
    _last_prune: float = field(init=False, default=-math.inf)
    _started: bool = field(init=False, default=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.alarms = AlarmStore(self.store)
        if self.dispatcher is None:
            self.dispatcher = WebhookDispatcher(name="alarm-webhook", policy=self.policy)

    def run_due(self) -> None:
        """Run if `interval_s` has passed since the last run."""
        if time.monotonic() - self._last_run < self.interval_s:
            return
        self.run_once()

    def run_once(self) -> list[int]:
        """Evaluate every rule now; the ids of the events this created."""
        with self._lock:
            self._last_run = time.monotonic()
            assert self.dispatcher is not None
            if not self._started:
                self._started = True
                self._redeliver()
            now = self.clock()
            tasks = [TaskSnapshot.of(t) for t in self.store.tasks.all()]
            created: list[int] = []
            for seen in self.alarms.list_rules():
                try:
                    created += self._evaluate(seen, tasks, now)
                except Exception:
                    log.exception("alarm rule %s could not be evaluated", seen.id)
            if time.monotonic() - self._last_prune > 3600:
                self._last_prune = time.monotonic()
                removed = self.alarms.prune_events(now - timedelta(seconds=self.event_retention_s))
                if removed:
                    log.info("alarm events: %d older than the retention removed", removed)
            return created

    def _evaluate(self, seen: AlarmRuleView, tasks: list[TaskSnapshot], now: datetime) -> list[int]:
        assert self.dispatcher is not None
        rule = seen.rule
        state = dict(seen.state)
        new_state, events = evaluate_rule(rule, rule.spec.enabled, tasks, now, state)
        if new_state == state and not events:
            return []
        stored = self.alarms.commit_evaluation(seen, new_state, events)
        if stored is None:
            return []  # the rule changed meanwhile: the next run sees the new definition
        for event in stored:
            log.info("alarm %s: %s", event.kind, event.payload["message"])
            deliver_event(self.alarms, self.dispatcher, event.id, rule.spec.webhooks, dict(event.payload))
        return [e.id for e in stored]

    def _redeliver(self) -> None:
        assert self.dispatcher is not None
        since = self.clock() - timedelta(seconds=self.redeliver_window_s)
        for event in self.alarms.unfinished_deliveries(since):
            urls = [u for u, d in event.delivery.items() if d.get("pending")]
            log.info("alarm event %d: delivering again to %d webhook(s)", event.id, len(urls))
            deliver_event(self.alarms, self.dispatcher, event.id, urls, dict(event.payload))

    def close(self) -> None:
        if self.dispatcher is not None:
            self.dispatcher.close()
