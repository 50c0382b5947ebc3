"""How the controller takes in a finished background job (`Controller._collect_job`):
a job's failure counts only for the task generation it was launched for. A topic listing
started before the user fixed an instance and started the task again must not fail the
new generation with the old error."""

from __future__ import annotations

from datetime import timedelta

from ksync.control import lifecycle
from ksync.control.controller import Controller, ControllerSettings, _TaskMemory
from ksync.domain.status import TaskStatus
from ksync.domain.task import TaskChange, TaskView
from ksync.kafka.errors import PersistentKafkaError
from ksync.spec import TaskSpec
from ksync.store.repo import Store

TLS_REFUSED = "cannot list the topics of instance ins-src: its brokers' TLS certificate is not signed"


def failed_task(store: Store) -> TaskView:
    spec = TaskSpec.model_validate(
        {
            "name": "orders-to-sh",
            "source": {"instance_id": "ins-src", "topics": ["orders"]},
            "target": {"instance_id": "ins-dst"},
        }
    )
    task = store.tasks.add(spec, [])
    failed = store.tasks.observe(task.id, TaskChange(status=TaskStatus.FAILED, error="old"))
    assert failed is not None
    return failed


def topics_job_that_failed(controller: Controller, task: TaskView, mem: _TaskMemory) -> None:
    """A topics job launched for `task` as it is now, finished with a persistent error."""

    def listing() -> None:
        raise PersistentKafkaError(TLS_REFUSED)

    controller._launch(task, mem, "topics", listing)
    assert mem.job is not None
    assert isinstance(mem.job.exception(timeout=10), PersistentKafkaError)


def test_a_job_launched_before_a_start_does_not_fail_the_new_generation(store: Store) -> None:
    controller = Controller(store, ControllerSettings(holder_id="test"))
    task = failed_task(store)
    mem = _TaskMemory()
    topics_job_that_failed(controller, task, mem)

    started = lifecycle.start(store, task.id, None, timedelta(hours=24))
    assert started.generation == task.generation + 1

    after = controller._collect_job(started, mem)
    assert after.status != TaskStatus.FAILED
    assert store.tasks.get(task.id).status != TaskStatus.FAILED
    assert mem.next_refresh == 0.0, "the selection is looked at again at once"


def test_a_job_of_the_current_generation_still_fails_the_task(store: Store) -> None:
    controller = Controller(store, ControllerSettings(holder_id="test"))
    task = lifecycle.start(store, failed_task(store).id, None, timedelta(hours=24))
    mem = _TaskMemory()
    topics_job_that_failed(controller, task, mem)

    after = controller._collect_job(task, mem)
    assert after.status == TaskStatus.FAILED and after.error == TLS_REFUSED
    assert store.tasks.get(task.id).error == TLS_REFUSED
