"""A task's metric history: one point per 10-second step, kept for 24 hours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class MetricPoint:
    """One step of a task's history: when it ended and what it measured (see
    monitoring.aggregate for the keys)."""

    at: datetime
    data: Mapping[str, Any]
