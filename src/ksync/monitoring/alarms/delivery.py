"""How a stored alarm event reaches its webhooks: handed to a `WebhookDispatcher`, every
attempt's outcome written back to the event's `delivery` record."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ksync.monitoring.alarms.webhooks import Delivery, WebhookDispatcher
from ksync.store.alarm_repo import AlarmStore


def deliver_event(
    alarms: AlarmStore, dispatcher: WebhookDispatcher, event_id: int, urls: Sequence[str], payload: dict[str, Any]
) -> None:
    """Hand a stored event to the dispatcher; each outcome is written to its `delivery`."""

    def record(url: str, outcome: Delivery) -> None:
        alarms.record_delivery(event_id, url, outcome.as_json())

    dispatcher.deliver(urls, {"id": event_id, **payload}, record)
