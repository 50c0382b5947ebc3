"""ksync's domain words, shared by every layer: statuses, typed views of what the store
holds, and the errors operations raise. Nothing here does I/O; everything may import it."""

from ksync.domain.instance import InstanceView
from ksync.domain.metrics import MetricPoint
from ksync.domain.task import TaskView
from ksync.domain.workers import MemberView, WorkerView

__all__ = ["InstanceView", "MemberView", "MetricPoint", "TaskView", "WorkerView"]
