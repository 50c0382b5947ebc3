"""The Kafka Connect REST routes (`/connectors…`, `/connector-plugins…`, `GET /`): each
parses the request, calls the task or instance service, and answers in Connect's shape."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Response
from fastapi.responses import JSONResponse

from ksync import __version__
from ksync.api.compat.connect import connectors
from ksync.api.compat.connect.config import (
    CONNECTOR_CLASSES,
    CONNECTOR_TYPE,
    SOURCE_TASK,
    ConfigError,
    check_name,
    parse,
)
from ksync.api.compat.connect.errors import ConnectError, ConnectRoute
from ksync.api.compat.connect.hiding import hide_secrets
from ksync.api.compat.connect.plugin_config import CONFIG_GROUPS, key_info, plugin_config
from ksync.api.compat.connect.states import (
    EXTERNAL_KEY,
    connect_part,
    connect_tasks,
    connector_info,
    current_members,
    status_info,
    stop_mark,
    stopped,
)
from ksync.api.deps import SettingsDep, StoreDep
from ksync.api.schemas import progress_of
from ksync.control import lifecycle
from ksync.domain.status import Desired
from ksync.domain.task import TaskChange, TaskView
from ksync.domain.workers import MemberView
from ksync.store.repo import Store

# The Kafka Connect REST API level this face follows (restart with includeTasks/onlyFailed
# is 3.0+, PATCH config and GET offsets 3.5+, GET /health 3.9+ and 4.x).
CONNECT_API_VERSION = "4.0.0"

router = APIRouter(tags=["kafka-connect"], route_class=ConnectRoute)
log = logging.getLogger("ksync.api.compat.connect")


def _status_now(store: Store, row: TaskView) -> dict[str, Any]:
    return status_info(row, store.workers.members(row.id), store.workers.slot_map().get(row.id, {}))


@router.get("/")
def server_info(store: StoreDep) -> dict[str, Any]:
    """Connect's server info. `kafka_cluster_id` is that of the first registered instance
    (ksync has no Kafka cluster of its own), or "" before any is registered."""
    instances = store.instances.all()
    return {
        "version": f"{CONNECT_API_VERSION}-ksync-{__version__}",
        "commit": f"ksync-{__version__}",
        "kafka_cluster_id": instances[0].cluster_id if instances else "",
    }


@router.get("/health", response_model=None)
def health(store: StoreDep) -> JSONResponse:
    """Connect 4.x's health check (KIP-1017): 200 `healthy` once the server answers and
    its store does (every operation needs it), else 500 `unhealthy` saying why."""
    reason = store.unreachable()
    if reason is not None:
        log.warning("Kafka Connect face: health check: the store does not answer: %s", reason)
        return JSONResponse(
            # The reason may name the database's address: it stays in the server log.
            {
                "status": "unhealthy",
                "message": "ksync cannot read its store; the server log says why",
            },
            status_code=500,
        )
    workers = len(store.workers.all())
    return JSONResponse(
        {
            "status": "healthy",
            "message": f"Worker has completed startup and is ready to handle requests "
            f"({workers} ksync worker{'s' if workers != 1 else ''} reporting).",
        }
    )


@router.get("/connector-plugins")
def connector_plugins(connectorsOnly: bool = True) -> list[dict[str, str]]:
    """The connector classes ksync runs: MM2's source and checkpoint connectors."""
    return [
        {"class": cls, "type": CONNECTOR_TYPE, "version": CONNECT_API_VERSION}
        for cls in CONNECTOR_CLASSES
    ]


def _plugin_matches(plugin: str, connector_class: str) -> bool:
    """Connect's plugin names: the class, its simple name, or that without "Connector"."""
    simple = connector_class.rsplit(".", 1)[-1]
    return plugin in (connector_class, simple, simple.removesuffix("Connector"))


def _plugin_class(plugin: str) -> str | None:
    """The connector class `plugin` names, if ksync runs it."""
    return next((cls for cls in CONNECTOR_CLASSES if _plugin_matches(plugin, cls)), None)


def _require_plugin(plugin: str) -> str:
    found = _plugin_class(plugin)
    if found is None:
        raise ConnectError(
            404, f"Unknown plugin {plugin}. ksync runs {' and '.join(CONNECTOR_CLASSES)}",
        )
    return found


@router.get("/connector-plugins/{plugin}/config")
def connector_plugin_config(plugin: str) -> list[dict[str, Any]]:
    """The plugin's config definitions (Connect's ConfigKeyInfo list): every key ksync
    acts on, with its type, default and what it does."""
    _require_plugin(plugin)
    return plugin_config()


@router.put("/connector-plugins/{plugin}/config/validate")
def validate_connector_config(plugin: str, config: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Check a config without creating anything: each given key with its errors.

    Answers in Connect's ConfigInfos shape. It checks the config itself; whether ksync
    can reach the clusters is checked when the connector is created.
    """
    plugin_class = _plugin_class(plugin)
    if plugin_class is None:
        raise ConnectError(
            404, f"Failed to find any class that implements Connector and which name matches "
            f"{plugin}; ksync runs {' and '.join(CONNECTOR_CLASSES)}",
        )
    included = config.get("connector.class")
    if isinstance(included, str) and not _plugin_matches(included, plugin_class):
        raise ConnectError(400, f"Included connector type {included} does not match request type {plugin}")
    raw = {**config, "connector.class": plugin_class}
    errors: dict[str, list[str]] = {}
    name = raw.get("name")
    if not isinstance(name, str):
        errors["name"] = ['Missing required configuration "name" which has no default value.']
    else:
        try:
            parse(name, raw)
        except ConfigError as exc:
            errors[exc.key] = [exc.message]
    shown = hide_secrets({k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()})
    keys = sorted(shown.keys() | errors.keys())
    return {
        "name": plugin_class,
        "error_count": sum(len(e) for e in errors.values()),
        "groups": list(CONFIG_GROUPS),
        "configs": [
            {
                "definition": key_info(key),
                "value": {
                    "name": key, "value": shown.get(key), "recommended_values": [],
                    "errors": errors.get(key, []), "visible": True,
                },
            }
            for key in keys
        ],
    }


@router.get("/connectors", response_model=None)
def list_connectors(
    store: StoreDep, expand: Annotated[list[str] | None, Query()] = None
) -> list[str] | dict[str, Any]:
    """Connector names; with `expand=status` and/or `expand=info`, a map name -> details."""
    rows = sorted(connectors.live_tasks(store), key=lambda t: t.name)
    if not expand:
        return [t.name for t in rows]
    instances = connectors.instances_by_id(store) if "info" in expand else {}
    members: dict[str, list[MemberView]] = defaultdict(list)
    slots: dict[str, dict[int, str | None]] = {}
    if "status" in expand:
        for m in store.workers.members():
            members[m.task_id].append(m)
        slots = store.workers.slot_map()
    out: dict[str, Any] = {}
    for row in rows:
        entry: dict[str, Any] = {}
        if "status" in expand:
            entry["status"] = status_info(row, members[row.id], slots.get(row.id, {}))
        if "info" in expand:
            entry["info"] = connector_info(row, connectors.config_of(row, instances))
        out[row.name] = entry
    return out


@router.post("/connectors", status_code=201)
def create_connector(
    payload: Annotated[dict[str, Any], Body()], store: StoreDep, settings: SettingsDep, response: Response
) -> dict[str, Any]:
    """Create a connector from `{"name", "config"}`; 409 if the name is taken."""
    config = payload.get("config")
    if not isinstance(config, dict):
        raise ConnectError(400, "config: is required, a map of connector settings")
    name = payload.get("name", config.get("name"))
    if not isinstance(name, str):
        raise ConnectError(400, "name: is required, a string")
    parsed = parse(name, config)
    if connectors.find(store, name) is not None:
        raise ConnectError(409, f"Connector {name} already exists")
    row = connectors.create(store, parsed, settings.max_tasks, settings.bootstrap_policy)
    response.headers["location"] = f"/connectors/{quote(name, safe='')}"
    return connector_info(row, parsed.config)


@router.get("/connectors/{name}")
def get_connector(name: str, store: StoreDep) -> dict[str, Any]:
    row = connectors.require(store, name)
    return connector_info(row, connectors.config_of(row, connectors.instances_by_id(store)))


@router.get("/connectors/{name}/config")
def get_connector_config(name: str, store: StoreDep) -> dict[str, str]:
    return connectors.config_of(connectors.require(store, name), connectors.instances_by_id(store))


@router.put("/connectors/{name}/config")
def put_connector_config(
    name: str,
    config: Annotated[dict[str, Any], Body()],
    store: StoreDep,
    settings: SettingsDep,
    response: Response,
) -> dict[str, Any]:
    """Create (201) or reconfigure (200) a connector; a running one restarts its members
    with the new config, keeping its progress."""
    check_name(name)
    parsed = parse(name, config)
    row = connectors.find(store, name)
    if row is None:
        row = connectors.create(store, parsed, settings.max_tasks, settings.bootstrap_policy)
        response.status_code = 201
        response.headers["location"] = f"/connectors/{quote(name, safe='')}"
    else:
        row = connectors.reconfigure(store, row, parsed, settings.bootstrap_policy)
    return connector_info(row, parsed.config)


@router.patch("/connectors/{name}/config")
def patch_connector_config(
    name: str,
    patch: Annotated[dict[str, Any], Body()],
    store: StoreDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Merge keys into a connector's config (Connect 3.5+, KIP-477): a key given replaces
    its value, a key given as null is removed, the others stay. Checked as a whole config,
    so a bad merge answers 400 and changes nothing."""
    row = connectors.require(store, name)
    merged: dict[str, Any] = dict(connectors.config_of(row, connectors.instances_by_id(store)))
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    parsed = parse(name, merged)
    row = connectors.reconfigure(store, row, parsed, settings.bootstrap_policy)
    return connector_info(row, parsed.config)


@router.get("/connectors/{name}/status")
def connector_status(name: str, store: StoreDep) -> dict[str, Any]:
    return _status_now(store, connectors.require(store, name))


@router.get("/connectors/{name}/tasks")
def connector_tasks(name: str, store: StoreDep) -> list[dict[str, Any]]:
    """One entry per member slot, with MM2's task keys and the partitions it owns now."""
    row = connectors.require(store, name)
    config = connectors.config_of(row, connectors.instances_by_id(store))
    current = current_members(row, store.workers.members(row.id))
    out = []
    for slot in connect_tasks(row):
        m = current.get(slot)
        partitions = [f"{t}-{p}" for t, p in (m.partitions if m is not None else [])]
        out.append(
            {
                "id": {"connector": row.name, "task": slot},
                "config": {
                    **config,
                    "task.class": SOURCE_TASK,
                    "task.assigned.partitions": ",".join(partitions),
                },
            }
        )
    return out


def _task_id(row: TaskView, task: str) -> int:
    """A Connect task id of `row`, or Connect's 404 (a stopped connector has none)."""
    if not task.isdigit() or int(task) not in connect_tasks(row):
        raise ConnectError(404, f"No status found for task {row.name}-{task}")
    return int(task)


@router.get("/connectors/{name}/tasks/{task}/status")
def task_status(name: str, task: str, store: StoreDep) -> dict[str, Any]:
    """One task's state (Connect's TaskState): the member slot's, as in the status."""
    row = connectors.require(store, name)
    slot = _task_id(row, task)
    entry: dict[str, Any] = _status_now(store, row)["tasks"][slot]
    return entry


@router.post("/connectors/{name}/tasks/{task}/restart", status_code=204)
def restart_task(name: str, task: str, store: StoreDep) -> Response:
    """Restart a task: ksync restarts the whole connector (every member, from the
    committed progress), since its members' shares of the partitions are decided together.
    A paused connector answers 409: resume it instead."""
    row = connectors.require(store, name)
    if not task.isdigit() or int(task) not in connect_tasks(row):
        raise ConnectError(404, f"Unknown task: {row.name}-{task}")
    lifecycle.restart(store, row.id)
    return Response(status_code=204)


@router.get("/connectors/{name}/topics")
def connector_topics(name: str, store: StoreDep) -> dict[str, Any]:
    """The target topics the connector writes to (KIP-558)."""
    row = connectors.require(store, name)
    return {row.name: {"topics": sorted({t.target for t in row.topics})}}


@router.put("/connectors/{name}/topics/reset", status_code=202)
def reset_connector_topics(name: str, store: StoreDep) -> Response:
    """Accepted, as in Connect. ksync keeps no history of active topics to forget: the
    topics GET …/topics lists are those the connector's selection maps now, worked out
    again on every refresh, so a topic no longer selected leaves the list by itself."""
    connectors.require(store, name)
    return Response(status_code=202)


@router.get("/connectors/{name}/offsets")
def connector_offsets(name: str, store: StoreDep) -> dict[str, Any]:
    """Committed progress in MM2's source-offset shape. MM2 stores the offset of the last
    record replicated (and resumes after it), so offset = committed position - 1, and a
    partition with nothing replicated yet has no entry."""
    row = connectors.require(store, name)
    if row.reset_start is not None:
        return {"offsets": []}  # reset: the next start begins at the task's start point
    alias = connectors.config_of(row, connectors.instances_by_id(store)).get("source.cluster.alias", "source")
    offsets = [
        {
            "partition": {"cluster": alias, "partition": p.partition, "topic": p.topic},
            "offset": {"offset": p.committed_offset - 1},
        }
        for p in progress_of(store.workers.members(row.id))
        if p.committed_offset is not None and p.committed_offset > 0
    ]
    return {"offsets": offsets}


@router.put("/connectors/{name}/pause", status_code=202)
def pause_connector(name: str, store: StoreDep) -> Response:
    """Members commit their progress and stop; the state becomes PAUSED."""
    row = connectors.require(store, name)
    if row.desired != Desired.PAUSED:
        lifecycle.pause(store, row.id)
    return Response(status_code=202)


@router.put("/connectors/{name}/resume", status_code=202)
def resume_connector(name: str, store: StoreDep, settings: SettingsDep) -> Response:
    """Resume a paused connector (after the pause retention: from the latest offsets) or
    a stopped one (from its offsets however long it was stopped, as in Connect)."""
    row = connectors.require(store, name)
    if row.desired == Desired.PAUSED:
        retention = lifecycle.NEVER_EXPIRES if stopped(row) else settings.pause_retention
        lifecycle.start(store, row.id, None, retention)
    return Response(status_code=202)


@router.put("/connectors/{name}/stop", status_code=202)
def stop_connector(name: str, store: StoreDep) -> Response:
    """Members commit their progress and stop, as for pause; the connector shows STOPPED
    with no tasks, keeps its offsets until resumed, and its offsets can be reset."""
    row = connectors.require(store, name)
    if stopped(row):
        return Response(status_code=202)
    if row.desired != Desired.PAUSED:
        row = lifecycle.pause(store, row.id)
    paused_at = row.paused_at
    assert paused_at is not None  # set by every pause

    def mark(locked: TaskView) -> TaskChange:
        external = dict(locked.external or {})
        external[EXTERNAL_KEY] = {**connect_part(locked), "stopped_at": stop_mark(paused_at)}
        return TaskChange(external=external)

    store.tasks.change(row.id, mark)
    return Response(status_code=202)


def _require_stopped(row: TaskView) -> None:
    if not stopped(row):
        raise ConnectError(
            400,
            "Connectors must be in the STOPPED state before their offsets can be modified. "
            f"This can be done for the specified connector by issuing a 'PUT' request to the "
            f"'/connectors/{row.name}/stop' endpoint",
        )


@router.delete("/connectors/{name}/offsets")
def reset_connector_offsets(name: str, store: StoreDep) -> dict[str, str]:
    """Forget a stopped connector's progress: on resume it copies from the task's start
    point (earliest unless set otherwise), as MM2 falls back to its consumer's reset."""
    row = connectors.require(store, name)
    _require_stopped(row)
    lifecycle.reset_progress(store, row.id)
    return {"message": "The offsets for this connector have been reset successfully"}


@router.patch("/connectors/{name}/offsets")
def alter_connector_offsets(name: str, store: StoreDep) -> dict[str, str]:
    """Not supported: ksync resets progress as a whole, not partition by partition."""
    row = connectors.require(store, name)
    _require_stopped(row)
    raise ConnectError(
        400,
        f"ksync cannot set offsets partition by partition; reset them all with DELETE "
        f"/connectors/{row.name}/offsets (the connector then copies from its start point), or "
        "choose a start point (earliest, latest or a timestamp) with the native API",
    )


@router.post("/connectors/{name}/restart", response_model=None)
def restart_connector(
    name: str,
    store: StoreDep,
    includeTasks: bool = False,  # Connect's parameter names
    onlyFailed: bool = False,
) -> Response:
    """Restart as Connect 3.0+ plans it: the connector unless `onlyFailed` and it is not
    FAILED; with `includeTasks`, the tasks too (with `onlyFailed`, the FAILED ones). A
    plain restart answers 204; otherwise 202 with the status, RESTARTING on what
    restarts. ksync restarts the whole task (every member) whenever the plan restarts
    anything, so then the connector and every task show RESTARTING."""
    row = connectors.require(store, name)
    before = _status_now(store, row)
    planned = (
        not onlyFailed
        or before["connector"]["state"] == "FAILED"
        or (includeTasks and any(t["state"] == "FAILED" for t in before["tasks"]))
    )
    if planned:
        lifecycle.restart(store, row.id)
    if not includeTasks and not onlyFailed:
        return Response(status_code=204)
    if planned:
        for state in (before["connector"], *before["tasks"]):
            state["state"] = "RESTARTING"
            state.pop("trace", None)
    return JSONResponse(before, status_code=202)


@router.delete("/connectors/{name}", status_code=204)
def delete_connector(name: str, store: StoreDep) -> Response:
    """Stop the sync; the connector is gone at once (copied data and topics stay)."""
    lifecycle.delete(store, connectors.require(store, name).id)
    return Response(status_code=204)
