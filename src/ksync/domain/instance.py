"""A Kafka instance as every layer but the store sees it: `InstanceView`, with no secrets.

The secrets (a SASL password, a CA certificate) stay in the store; only the Kafka wrapper
gets them, in a `spec.Connection`, and the instance service compares them
(control.instances). A view says whether a password is stored (`has_secrets`), which
decides whether moving the instance needs it given again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ksync.spec import SaslMechanism, SecurityProtocol


@dataclass(frozen=True)
class InstanceSecurity:
    """How ksync authenticates to an instance, without the secrets."""

    protocol: SecurityProtocol = "PLAINTEXT"
    sasl_mechanism: SaslMechanism | None = None
    username: str | None = None


@dataclass(frozen=True)
class InstanceView:
    """One registered instance."""

    id: str
    name: str
    bootstrap_servers: str
    region: str | None
    zone: str | None
    security: InstanceSecurity
    # A SASL password is stored: it is sent only to the addresses it was entered for.
    has_secrets: bool
    # The Kafka cluster id, read when the instance was registered or last changed.
    cluster_id: str
    broker_count: int
    # Cap on all sync traffic reading from or writing to this instance, MB/s; None = none.
    sync_quota_mb_s: float | None
    # What a compatible face keeps about the instance, under its own key.
    external: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def servers(self) -> frozenset[str]:
        """The bootstrap addresses as a set (their order does not matter to Kafka)."""
        return frozenset(self.bootstrap_servers.split(","))

    @property
    def label(self) -> str:
        """`instance ins-x (name)`: how messages name the instance."""
        named = f" ({self.name})" if self.name and self.name != self.id else ""
        return f"instance {self.id}{named}"

    def external_part(self, key: str) -> dict[str, Any]:
        """The part of `external` a face keeps under `key` ({} when it keeps none)."""
        value = (self.external or {}).get(key)
        return dict(value) if isinstance(value, Mapping) else {}
