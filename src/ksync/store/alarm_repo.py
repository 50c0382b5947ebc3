"""Alarm rules and alarm events in the store (tables `alarm_rules`, `alarm_events`),
handed out as typed views (`AlarmRuleView`, `AlarmEventView`), never as rows.

Each method is one short transaction. Writes to one rule's state, and to one event's
delivery record, are read-modify-write: they lock the row (PostgreSQL) and are serialised
within the process (SQLite, where the server is the only process).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from ksync.domain.alarms import AlarmEvent, AlarmEventView, AlarmRuleSpec, AlarmRuleView
from ksync.domain.errors import NotFound
from ksync.store.repo import Store, as_utc, new_id, utcnow
from ksync.store.tables import AlarmEventRow, AlarmRuleRow

# The fields of a rule that define its condition: changing one restarts its pending timers.
CONDITION_FIELDS = ("task_id", "metric", "comparison", "threshold", "status", "duration_s")

_rule_lock = threading.Lock()
_delivery_lock = threading.Lock()


def _columns(spec: AlarmRuleSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "task_id": spec.task_id,
        "metric": spec.metric,
        "comparison": spec.comparison,
        # A status rule has no number; the column is not nullable.
        "threshold": spec.threshold if spec.threshold is not None else 0.0,
        "status": spec.status,
        "duration_s": spec.duration_s,
        "webhooks": list(spec.webhooks),
        "enabled": spec.enabled,
    }


def _spec_of_row(row: AlarmRuleRow) -> AlarmRuleSpec:
    """The definition of a stored rule (the inverse of `_columns`)."""
    return AlarmRuleSpec.model_validate(
        {
            "name": row.name,
            "task_id": row.task_id,
            "metric": row.metric,
            "comparison": row.comparison,
            "threshold": None if row.metric == "status" else row.threshold,
            "status": row.status,
            "duration_s": row.duration_s,
            "webhooks": list(row.webhooks),
            "enabled": row.enabled,
        }
    )


def _rule_view(row: AlarmRuleRow) -> AlarmRuleView:
    return AlarmRuleView(
        id=row.id,
        spec=_spec_of_row(row),
        state=dict(row.state or {}),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def _event_view(row: AlarmEventRow) -> AlarmEventView:
    return AlarmEventView(
        id=row.id,
        rule_id=row.rule_id,
        task_id=row.task_id,
        kind=row.kind,  # type: ignore[arg-type]  # written only from EventKind
        at=as_utc(row.at),
        payload={"id": row.id, **row.payload},
        delivery=dict(row.delivery or {}),
    )


def pending_delivery(urls: Sequence[str]) -> dict[str, Any]:
    """The delivery record of an event no attempt has been made for yet."""
    return {url: {"status": None, "attempts": 0, "error": None, "pending": True} for url in urls}


class AlarmStore:
    """Typed access to alarm rules and events; safe to share between threads."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # ---- rules --------------------------------------------------------------------------

    def add_rule(self, spec: AlarmRuleSpec) -> AlarmRuleView:
        now = utcnow()
        row = AlarmRuleRow(id=new_id("alarm"), state={}, created_at=now, updated_at=now, **_columns(spec))
        with self.store.session() as s:
            s.add(row)
        return _rule_view(row)

    def count_rules(self) -> int:
        """How many rules are stored."""
        with self.store.session() as s:
            return int(s.scalar(select(func.count()).select_from(AlarmRuleRow)) or 0)

    def get_rule(self, rule_id: str) -> AlarmRuleView:
        with self.store.session() as s:
            row = s.get(AlarmRuleRow, rule_id)
        if row is None:
            raise NotFound(f"alarm rule {rule_id} does not exist")
        return _rule_view(row)

    def list_rules(self) -> list[AlarmRuleView]:
        with self.store.session() as s:
            rows = s.scalars(select(AlarmRuleRow).order_by(AlarmRuleRow.created_at, AlarmRuleRow.id))
            return [_rule_view(r) for r in rows]

    def replace_rule(self, rule_id: str, spec: AlarmRuleSpec) -> AlarmRuleView:
        """Give a rule a new definition. If its condition changed, conditions that were
        building up (pending) start again; alarms that fired stay firing until the next
        evaluation under the new condition resolves them (or keeps them)."""
        columns = _columns(spec)
        with _rule_lock, self.store.session() as s:
            row = s.get(AlarmRuleRow, rule_id, with_for_update=True)
            if row is None:
                raise NotFound(f"alarm rule {rule_id} does not exist")
            if any(getattr(row, key) != columns[key] for key in CONDITION_FIELDS):
                row.state = {
                    task: entry for task, entry in (row.state or {}).items() if entry.get("firing_since")
                }
            for key, value in columns.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        return _rule_view(row)

    def delete_rule(self, rule_id: str) -> AlarmRuleView:
        """Forget a rule (its events stay in the history); returns it as it was."""
        with _rule_lock, self.store.session() as s:
            row = s.get(AlarmRuleRow, rule_id, with_for_update=True)
            if row is None:
                raise NotFound(f"alarm rule {rule_id} does not exist")
            view = _rule_view(row)
            s.delete(row)
        return view

    def commit_evaluation(
        self, seen: AlarmRuleView, state: dict[str, Any], events: Sequence[AlarmEvent]
    ) -> list[AlarmEventView] | None:
        """Store a rule's new state and the events it implies, together -- but only if the
        rule is still as `seen` (same definition, same state); None otherwise, and
        nothing is written (the next evaluation starts from what is stored)."""
        with _rule_lock, self.store.session() as s:
            row = s.get(AlarmRuleRow, seen.id, with_for_update=True)
            if row is None or as_utc(row.updated_at) != seen.updated_at or row.state != seen.state:
                return None
            row.state = state
            rows = [
                AlarmEventRow(
                    rule_id=e.rule_id,
                    task_id=e.task_id,
                    kind=e.kind,
                    at=e.at,
                    payload=e.payload,
                    delivery=pending_delivery(row.webhooks),
                )
                for e in events
            ]
            s.add_all(rows)
            s.flush()  # assigns the event ids
            return [_event_view(r) for r in rows]

    # ---- events -------------------------------------------------------------------------

    def add_event(self, event: AlarmEvent, urls: Sequence[str]) -> AlarmEventView:
        row = AlarmEventRow(
            rule_id=event.rule_id,
            task_id=event.task_id,
            kind=event.kind,
            at=event.at,
            payload=event.payload,
            delivery=pending_delivery(urls),
        )
        with self.store.session() as s:
            s.add(row)
            s.flush()  # assigns the event id
            return _event_view(row)

    def event_times(self, rule_id: str, kind: str, since: datetime) -> list[datetime]:
        """When the rule's events of `kind` at or after `since` happened, oldest first."""
        q = select(AlarmEventRow.at).where(
            AlarmEventRow.rule_id == rule_id, AlarmEventRow.kind == kind, AlarmEventRow.at >= since
        )
        with self.store.session() as s:
            return [as_utc(at) for at in s.scalars(q.order_by(AlarmEventRow.at))]

    def get_event(self, event_id: int) -> AlarmEventView:
        with self.store.session() as s:
            row = s.get(AlarmEventRow, event_id)
        if row is None:
            raise NotFound(f"alarm event {event_id} does not exist")
        return _event_view(row)

    def record_delivery(self, event_id: int, url: str, outcome: dict[str, Any]) -> None:
        """Write the latest outcome of delivering event `event_id` to `url`."""
        with _delivery_lock, self.store.session() as s:
            row = s.get(AlarmEventRow, event_id, with_for_update=True)
            if row is not None:
                row.delivery = {**(row.delivery or {}), url: outcome}

    def events(
        self, rule_id: str | None = None, task_id: str | None = None, limit: int = 100
    ) -> list[AlarmEventView]:
        """The history, newest first."""
        q = select(AlarmEventRow)
        if rule_id is not None:
            q = q.where(AlarmEventRow.rule_id == rule_id)
        if task_id is not None:
            q = q.where(AlarmEventRow.task_id == task_id)
        with self.store.session() as s:
            return [_event_view(r) for r in s.scalars(q.order_by(AlarmEventRow.id.desc()).limit(limit))]

    def unfinished_deliveries(self, since: datetime) -> list[AlarmEventView]:
        """Events since `since` with a webhook still marked pending."""
        with self.store.session() as s:
            rows = s.scalars(
                select(AlarmEventRow).where(AlarmEventRow.at >= since).order_by(AlarmEventRow.id)
            )
            return [
                _event_view(r) for r in rows if any(d.get("pending") for d in (r.delivery or {}).values())
            ]

    def prune_events(self, before: datetime) -> int:
        """Delete events older than `before`; how many went."""
        with self.store.session() as s:
            result = s.execute(delete(AlarmEventRow).where(AlarmEventRow.at < before))
            return int(getattr(result, "rowcount", 0) or 0)
