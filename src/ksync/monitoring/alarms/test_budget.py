"""How many test events an alarm rule may send: at most `per_minute` in any minute
(`ksync server --max-test-events-per-minute`), so the test endpoint cannot be used to
flood a webhook receiver. The events stored are what is counted, so every server sharing
the store counts alike and a restart forgets nothing."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from ksync.domain.errors import RateLimited
from ksync.store.alarm_repo import AlarmStore

WINDOW = timedelta(minutes=1)


def wait_s(recent: list[datetime], per_minute: int, now: datetime) -> float:
    """Seconds until one more event fits, given the times of the events sent within the
    minute before `now` (oldest first); 0 when it fits now."""
    if len(recent) < per_minute:
        return 0.0
    # The event whose leaving the window brings the count under the cap.
    frees = recent[len(recent) - per_minute]
    return max(0.0, (frees + WINDOW - now).total_seconds())


def check_test_budget(alarms: AlarmStore, rule_id: str, per_minute: int, now: datetime) -> None:
    """`RateLimited` when rule `rule_id` already sent `per_minute` test events in the
    minute before `now`; nothing is sent then."""
    recent = alarms.event_times(rule_id, "test", since=now - WINDOW)
    wait = wait_s(recent, per_minute, now)
    if wait > 0:
        raise RateLimited(
            f"alarm rule {rule_id} sent {len(recent)} test events in the last minute; at most "
            f"{per_minute} a minute are allowed (ksync server --max-test-events-per-minute): "
            f"try again in {max(1, math.ceil(wait))} s",
            retry_after_s=wait,
        )
