"""A sync task as every layer sees it: `TaskView`, built once from the store, and
`TaskChange`, the typed write a service or the controller hands back to it.

Rows never leave the store: what the API, the services, the controller, the worker and
the faces read is a `TaskView`, with the spec already validated (`TaskSpec`), the status
and desired state as `TaskStatus` and `Desired`, and the topic mappings as values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Final, Literal

from ksync.domain.status import Desired, TaskStatus
from ksync.domain.topics import TopicMapping
from ksync.spec import StartPoint, TaskSpec


@dataclass(frozen=True)
class TaskView:
    """One task: what the user asked for (`spec`, `desired`) and what the controller last
    observed (`status`, `error`, `warnings`, `topics`, `metrics`)."""

    id: str
    name: str
    spec: TaskSpec
    desired: Desired
    status: TaskStatus
    # Bumped to make every member stop and start again (restart, new instance settings).
    generation: int
    topics: tuple[TopicMapping, ...]
    error: str | None
    warnings: tuple[str, ...]
    paused_at: datetime | None
    # Set when a task is started after its pause retention: the controller drops the
    # committed progress and members restart from this start point.
    reset_start: StartPoint | None
    # When the controller first resolved the topic selection (see partition_start).
    topics_resolved_at: datetime | None
    # The controller's latest rates, lag, latency and totals (see monitoring.aggregate).
    metrics: Mapping[str, Any] | None
    # What a compatible face keeps about the task, under its own key.
    external: Mapping[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def source_id(self) -> str:
        """The instance the task reads from."""
        return self.spec.source.instance_id

    @property
    def target_id(self) -> str:
        """The instance the task writes to."""
        return self.spec.target.instance_id

    @property
    def instance_ids(self) -> frozenset[str]:
        """Both instances (one, when a task syncs within one instance)."""
        return frozenset((self.source_id, self.target_id))

    @property
    def deleted(self) -> bool:
        """Deletion was requested: the task is Terminating, or gone once its members stop."""
        return self.desired == Desired.DELETED

    @property
    def partition_count(self) -> int:
        """Source partitions over every resolved topic."""
        return sum(t.partitions for t in self.topics)

    def external_part(self, key: str) -> dict[str, Any]:
        """The part of `external` a face keeps under `key` ({} when it keeps none)."""
        value = (self.external or {}).get(key)
        return dict(value) if isinstance(value, Mapping) else {}


@dataclass(frozen=True)
class TaskEvent:
    """One status change of a task, as its history shows it."""

    at: datetime
    status: TaskStatus
    message: str


class _Keep(Enum):
    KEEP = "keep"


# A `TaskChange` field left at KEEP is not written (None is a value: it clears the field).
KEEP: Final = _Keep.KEEP
Keep = Literal[_Keep.KEEP]


@dataclass(frozen=True)
class TaskChange:
    """The fields a write changes on a task; every field left at `KEEP` stays as it is.

    User operations (control.lifecycle) change desired state, and say in `event` why the
    status moves; the controller writes what it observed (status, error, warnings, topics).
    """

    desired: Desired | Keep = KEEP
    status: TaskStatus | Keep = KEEP
    generation: int | Keep = KEEP
    error: str | None | Keep = KEEP
    warnings: tuple[str, ...] | Keep = KEEP
    topics: tuple[TopicMapping, ...] | Keep = KEEP
    topics_resolved_at: datetime | Keep = KEEP
    paused_at: datetime | None | Keep = KEEP
    reset_start: StartPoint | None | Keep = KEEP
    # A new spec also renames the task (the name is the spec's).
    spec: TaskSpec | Keep = KEEP
    external: Mapping[str, Any] | None | Keep = KEEP
    # The message of the status event, when `status` changes (default "<old> -> <new>").
    event: str | None = None


NO_CHANGE = TaskChange()
