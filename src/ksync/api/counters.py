"""Security events the API counts for Prometheus: TC3 signatures reused for another
action, failed authentications and throttled callers. One instance per app, exposed
at `/metrics` next to the engine's metrics."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

# What `SecurityCounters.add` counts, with the help text of its metric.
EVENTS = {
    "tc3_action_reuse": "TC3 signatures accepted again for another action (default mode)",
    "auth_failures": "Requests with a wrong API key, session cookie or signature",
    "auth_throttled": "Requests refused with 429 after too many failed authentications",
}


class SecurityCounters(Collector):
    """Thread-safe event counts, collected as `ksync_security_<event>_total`."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, event: str) -> None:
        """Count one `event` (one of `EVENTS`)."""
        if event not in EVENTS:
            raise ValueError(f"unknown security event {event!r}; known: {', '.join(EVENTS)}")
        with self._lock:
            self._counts[event] += 1

    def get(self, event: str) -> int:
        with self._lock:
            return self._counts[event]

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            counts = dict(self._counts)
        for event, help_text in EVENTS.items():
            yield CounterMetricFamily(f"ksync_security_{event}", help_text, value=counts.get(event, 0))

    def registry(self) -> CollectorRegistry:
        """A registry holding only these counters."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry
