"""Kafka Connect REST face (`/connectors…`): ksync tasks as MirrorMaker 2-style connectors.

Clients written for the Kafka Connect REST API (curl recipes, kcctl-style tools, UIs that
list connectors) drive ksync unchanged: every ksync task is a `MirrorSourceConnector`
named after the task, and MM2 config keys are mapped onto the task spec by
`connect_config`. All operations go through `ksync.control.lifecycle`, like the native API.

Mapping choices (where Connect and ksync differ):

* States: Unassigned/Running/Paused/Failed -> UNASSIGNED/RUNNING/PAUSED/FAILED (the
  connector's `trace` is the task's error). A Terminating task is shown as gone (404):
  Connect's DELETE is final to the caller, and the name can be reused at once (a new task
  gets its own id and consumer group while the old one finishes stopping).
* Connect "tasks" are ksync member slots (`tasks.max` = `task_max`).
* Pause of a paused connector and resume of a running one are accepted no-ops (202), as
  in Connect; resume does not retry a FAILED connector (use restart), also as in Connect.
  Other operations that make no sense in the current state answer 409.
* Restart always restarts the whole task (every member): ksync has no connector object
  apart from its members. `onlyFailed=true` restarts only a failed connector.
* Config keys ksync does not act on are kept, shown by GET config, and listed in the
  status under the `ksync` extension field (`ignored_config`), never dropped silently.
* Secrets are never returned: they are stored hidden as `[hidden]` (see connect_config).
* Stop (KIP-875) is a pause that Connect clients see as STOPPED with no tasks; a stopped
  connector keeps its offsets however long it stays stopped (a paused one only for the
  pause retention), and DELETE …/offsets resets them: the next start copies from the
  task's start point. PATCH …/offsets (per-partition offsets) is refused with a 400 that
  says so.
* Config validation (`PUT /connector-plugins/{plugin}/config/validate`) answers one entry
  per given key with its errors. It checks the config itself; whether the clusters can be
  reached is checked on create, as Connect leaves that to the connector's start.

Errors have Connect's shape `{"error_code": N, "message": "…"}`: 400 bad config or
request, 404 unknown connector, 409 conflicts.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from ksync import __version__
from ksync.api.compat.connect_config import (
    HIDDEN,
    SOURCE_CONNECTOR,
    SOURCE_TASK,
    ClusterRef,
    ConfigError,
    MirrorConfig,
    check_name,
    config_of_spec,
    hide_secrets,
    parse,
)
from ksync.api.deps import SettingsDep, StoreDep
from ksync.api.errors import ApiError
from ksync.api.schemas import progress_of
from ksync.control import instances, lifecycle
from ksync.domain.errors import Conflict, InstanceUnreachable, InvalidField, NotFound
from ksync.domain.instance import InstanceView
from ksync.domain.status import Desired, MemberState, TaskStatus
from ksync.domain.task import TaskChange, TaskView
from ksync.domain.workers import MemberView
from ksync.spec import InstanceSpec, SecuritySpec
from ksync.store.repo import Store

log = logging.getLogger(__name__)

# The Kafka Connect REST API level this face follows (restart with includeTasks/onlyFailed
# is 3.0+, GET offsets 3.5+).
CONNECT_API_VERSION = "3.7.0"
CONNECTOR_TYPE = "source"

STATES = {
    TaskStatus.UNASSIGNED: "UNASSIGNED",
    TaskStatus.RUNNING: "RUNNING",
    TaskStatus.PAUSED: "PAUSED",
    TaskStatus.FAILED: "FAILED",
}


class ConnectError(Exception):
    """An error answered in Connect's shape with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error_code": status, "message": message}, status_code=status)


def _describe(errors: list[Any]) -> str:
    parts = []
    for err in errors:
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "JSON decode error")
            parts.append(f"body: is not valid JSON ({reason})")
            continue
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        parts.append(f"{loc}: {'is required' if err.get('type') == 'missing' else msg}")
    return "; ".join(parts)


class ConnectRoute(APIRoute):
    """Routes of this face: errors in Connect's shape, and `GET /` left to the web
    console when the client asks for HTML."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def connect_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except ConnectError as exc:
                return _error(exc.status, exc.message)
            except (ConfigError, InvalidField) as exc:
                return _error(400, str(exc))
            except RequestValidationError as exc:
                return _error(400, _describe(list(exc.errors())))
            except NotFound as exc:
                return _error(404, str(exc))
            except Conflict as exc:
                return _error(409, str(exc))
            except ApiError as exc:
                return _error(400 if exc.status == 422 else exc.status, exc.message)
            except StarletteHTTPException as exc:
                # A body over the size cap (ksync.api.limits), raised while it is read.
                return _error(exc.status_code, str(exc.detail))
            except Exception:
                log.exception("Kafka Connect face: %s %s failed", request.method, request.url.path)
                return _error(500, "internal error; the server log has the details")

        return connect_handler

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.path == "/" and _wants_html(scope):
            return Match.NONE, {}
        return super().matches(scope)


def _wants_html(scope: Scope) -> bool:
    return any(
        name == b"accept" and b"text/html" in value for name, value in scope.get("headers", ())
    )


router = APIRouter(tags=["kafka-connect"], route_class=ConnectRoute)


# ---- looking connectors up -----------------------------------------------------------------


def _live_tasks(store: Store) -> list[TaskView]:
    """Every task that is a connector: all but those being deleted (Terminating)."""
    return [t for t in store.tasks.all() if not t.deleted]


def _find(store: Store, name: str) -> TaskView | None:
    for task in _live_tasks(store):
        if task.name == name:
            return task
    return None


def _get(store: Store, name: str) -> TaskView:
    row = _find(store, name)
    if row is None:
        raise ConnectError(404, f"Connector {name} not found")
    return row


def _connect_ext(row: TaskView) -> dict[str, Any]:
    return row.external_part("connect")


def _config(row: TaskView, instances: dict[str, InstanceView]) -> dict[str, str]:
    """The connector config: as given through this face, else described from the spec."""
    stored = _connect_ext(row).get("config")
    if isinstance(stored, dict):
        return hide_secrets({str(k): str(v) for k, v in stored.items()})
    spec = row.spec
    return config_of_spec(
        row.name,
        spec,
        instances.get(spec.source.instance_id),
        instances.get(spec.target.instance_id),
    )


def _instances(store: Store) -> dict[str, InstanceView]:
    return {i.id: i for i in store.instances.all()}


def _slots(store: Store) -> dict[str, dict[int, str | None]]:
    return store.workers.slot_map()


def _task_max(row: TaskView) -> int:
    return row.spec.options.task_max


def _stopped(row: TaskView) -> bool:
    """Stopped through this face (PUT …/stop) and not started since.

    The mark is the pause's time: any later pause or start, from any API, leaves it stale.
    """
    return (
        row.desired == Desired.PAUSED
        and row.paused_at is not None
        and _connect_ext(row).get("stopped_at") == _stop_mark(row.paused_at)
    )


def _stop_mark(paused_at: datetime) -> str:
    return paused_at.isoformat()


def _connect_tasks(row: TaskView) -> range:
    """Connect's task ids: one per member slot, none while stopped (as in Connect)."""
    return range(0 if _stopped(row) else _task_max(row))


# ---- response shapes --------------------------------------------------------------------------


def _info(row: TaskView, config: dict[str, str]) -> dict[str, Any]:
    return {
        "name": row.name,
        "config": config,
        "tasks": [{"connector": row.name, "task": i} for i in _connect_tasks(row)],
        "type": CONNECTOR_TYPE,
    }


def _current(row: TaskView, members: list[MemberView]) -> dict[int, MemberView]:
    """The members of the task's current generation, by slot."""
    return {m.slot: m for m in members if m.generation == row.generation}


def _status(row: TaskView, members: list[MemberView], slots: dict[int, str | None]) -> dict[str, Any]:
    """Connect's ConnectorStateInfo, plus a `ksync` extension field.

    The connector's state is the task's status; each Connect task is one member slot:
    PAUSED when the task is, FAILED with the member's error (or the task's, when the
    controller failed it), RUNNING when its member runs, else UNASSIGNED.
    """
    state = STATES.get(row.status, "UNASSIGNED")
    if state == "PAUSED" and _stopped(row):
        state = "STOPPED"
    current = _current(row, members)
    first = current.get(0)
    connector: dict[str, Any] = {
        "state": state,
        "worker_id": slots.get(0) or (first.worker_id if first else "") or "",
    }
    if state == "FAILED":
        connector["trace"] = row.error or "failed"
    tasks = []
    for slot in _connect_tasks(row):
        m = current.get(slot)
        entry: dict[str, Any] = {"id": slot}
        if row.status == TaskStatus.PAUSED:
            entry["state"] = "PAUSED"
        elif m is not None and m.state == MemberState.FAILED:
            entry["state"] = "FAILED"
            entry["trace"] = m.error or "failed"
        elif row.status == TaskStatus.FAILED:
            entry["state"] = "FAILED"
            entry["trace"] = row.error or "failed"
        elif m is not None and m.state == MemberState.RUNNING:
            entry["state"] = "RUNNING"
        else:
            entry["state"] = "UNASSIGNED"
        entry["worker_id"] = (m.worker_id if m is not None else None) or slots.get(slot) or ""
        tasks.append(entry)
    return {
        "name": row.name,
        "connector": connector,
        "tasks": tasks,
        "type": CONNECTOR_TYPE,
        "ksync": {
            "task_id": row.id,
            "status": row.status,
            "warnings": list(row.warnings),
            "ignored_config": list(_connect_ext(row).get("ignored", [])),
        },
    }


def _status_now(store: Store, row: TaskView) -> dict[str, Any]:
    return _status(row, store.workers.members(row.id), _slots(store).get(row.id, {}))


# ---- creating and reconfiguring -------------------------------------------------------------


def _resolve_instance(store: Store, ref: ClusterRef) -> str:
    """The instance for one side: an existing one with the same bootstrap servers, else a
    new one named after the alias (after checking ksync can reach it)."""
    found = instances.find_by_servers(store, ref.bootstrap_servers)
    if found is not None:
        if ref.security is not None and not instances.same_security(
            store, found.id, ref.security, password_given=not ref.password_hidden
        ):
            raise ConfigError(
                ref.key("security.protocol"),
                f"instance {found.id} ({found.name}) at {found.bootstrap_servers} is registered "
                f"with other security settings; change them with PATCH "
                f"/api/v1/instances/{found.id}, or give the same settings here",
            )
        return found.id
    if ref.password_hidden:
        raise ConfigError(
            ref.key("sasl.jaas.config"),
            f"no registered instance has these bootstrap servers, so ksync needs the real "
            f"secret, not {HIDDEN}",
        )
    spec = InstanceSpec(
        name=ref.alias[:128],
        bootstrap_servers=ref.bootstrap_servers,
        security=ref.security or SecuritySpec(),
    )
    try:
        return instances.register(store, spec).id
    except (InstanceUnreachable, InvalidField) as exc:
        raise ConfigError(ref.key("bootstrap.servers"), f"cannot reach the cluster: {exc.message}") from None


_SPEC_KEYS = {
    "source.instance_id": "source.cluster.bootstrap.servers",
    "target.instance_id": "target.cluster.bootstrap.servers",
    "name": "name",
}


def _spec_error(exc: InvalidField) -> ConfigError:
    if exc.field == "target.topic_prefix":
        return ConfigError(
            "replication.policy.class",
            "source and target are the same Kafka cluster: IdentityReplicationPolicy would "
            "sync every topic onto itself; use DefaultReplicationPolicy",
        )
    return ConfigError(_SPEC_KEYS.get(exc.field, exc.field), exc.reason)


def _external(row: TaskView | None, parsed: MirrorConfig) -> dict[str, Any]:
    base = dict(row.external or {}) if row is not None else {}
    base["connect"] = {"config": parsed.config, "ignored": parsed.ignored}
    return base


def _create(store: Store, parsed: MirrorConfig) -> TaskView:
    source_id = _resolve_instance(store, parsed.source)
    target_id = _resolve_instance(store, parsed.target)
    spec = parsed.task_spec(source_id, target_id)
    try:
        return lifecycle.create(store, spec, external=_external(None, parsed))
    except InvalidField as exc:
        raise _spec_error(exc) from None


def _reconfigure(store: Store, row: TaskView, parsed: MirrorConfig) -> TaskView:
    source_id = _resolve_instance(store, parsed.source)
    target_id = _resolve_instance(store, parsed.target)
    current = row.spec
    spec = parsed.task_spec(source_id, target_id, current)
    external = _external(row, parsed)
    if spec == current and external == (row.external or {}):
        return row  # the same config again: nothing restarts
    try:
        return lifecycle.reconfigure(store, row.id, spec, external)
    except InvalidField as exc:
        raise _spec_error(exc) from None


# ---- routes ---------------------------------------------------------------------------------


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


@router.get("/connector-plugins")
def connector_plugins(connectorsOnly: bool = True) -> list[dict[str, str]]:
    """The one connector class ksync runs."""
    return [{"class": SOURCE_CONNECTOR, "type": CONNECTOR_TYPE, "version": CONNECT_API_VERSION}]


def _plugin_matches(plugin: str, connector_class: str) -> bool:
    """Connect's plugin names: the class, its simple name, or that without "Connector"."""
    simple = connector_class.rsplit(".", 1)[-1]
    return plugin in (connector_class, simple, simple.removesuffix("Connector"))


@router.put("/connector-plugins/{plugin}/config/validate")
def validate_connector_config(plugin: str, config: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    """Check a config without creating anything: each given key with its errors.

    Answers in Connect's ConfigInfos shape. It checks the config itself; whether ksync
    can reach the clusters is checked when the connector is created.
    """
    if not _plugin_matches(plugin, SOURCE_CONNECTOR):
        raise ConnectError(
            404, f"Failed to find any class that implements Connector and which name matches "
            f"{plugin}; ksync runs {SOURCE_CONNECTOR}",
        )
    included = config.get("connector.class")
    if isinstance(included, str) and not _plugin_matches(included, SOURCE_CONNECTOR):
        raise ConnectError(400, f"Included connector type {included} does not match request type {plugin}")
    raw = {**config, "connector.class": SOURCE_CONNECTOR}
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
        "name": SOURCE_CONNECTOR,
        "error_count": sum(len(e) for e in errors.values()),
        "groups": ["Common"],
        "configs": [
            {
                "definition": {
                    "name": key, "type": "STRING", "required": key in ("name", "connector.class"),
                    "default_value": None, "importance": "MEDIUM", "documentation": "",
                    "group": "Common", "width": "NONE", "display_name": key, "dependents": [],
                    "order": -1,
                },
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
    rows = sorted(_live_tasks(store), key=lambda t: t.name)
    if not expand:
        return [t.name for t in rows]
    instances = _instances(store) if "info" in expand else {}
    members: dict[str, list[MemberView]] = defaultdict(list)
    slots: dict[str, dict[int, str | None]] = {}
    if "status" in expand:
        for m in store.workers.members():
            members[m.task_id].append(m)
        slots = _slots(store)
    out: dict[str, Any] = {}
    for row in rows:
        entry: dict[str, Any] = {}
        if "status" in expand:
            entry["status"] = _status(row, members[row.id], slots.get(row.id, {}))
        if "info" in expand:
            entry["info"] = _info(row, _config(row, instances))
        out[row.name] = entry
    return out


@router.post("/connectors", status_code=201)
def create_connector(
    payload: Annotated[dict[str, Any], Body()], store: StoreDep, response: Response
) -> dict[str, Any]:
    """Create a connector from `{"name", "config"}`; 409 if the name is taken."""
    config = payload.get("config")
    if not isinstance(config, dict):
        raise ConnectError(400, "config: is required, a map of connector settings")
    name = payload.get("name", config.get("name"))
    if not isinstance(name, str):
        raise ConnectError(400, "name: is required, a string")
    parsed = parse(name, config)
    if _find(store, name) is not None:
        raise ConnectError(409, f"Connector {name} already exists")
    row = _create(store, parsed)
    response.headers["location"] = f"/connectors/{quote(name, safe='')}"
    return _info(row, parsed.config)


@router.get("/connectors/{name}")
def get_connector(name: str, store: StoreDep) -> dict[str, Any]:
    row = _get(store, name)
    return _info(row, _config(row, _instances(store)))


@router.get("/connectors/{name}/config")
def get_connector_config(name: str, store: StoreDep) -> dict[str, str]:
    return _config(_get(store, name), _instances(store))


@router.put("/connectors/{name}/config")
def put_connector_config(
    name: str, config: Annotated[dict[str, Any], Body()], store: StoreDep, response: Response
) -> dict[str, Any]:
    """Create (201) or reconfigure (200) a connector; a running one restarts its members
    with the new config, keeping its progress."""
    check_name(name)
    parsed = parse(name, config)
    row = _find(store, name)
    if row is None:
        row = _create(store, parsed)
        response.status_code = 201
        response.headers["location"] = f"/connectors/{quote(name, safe='')}"
    else:
        row = _reconfigure(store, row, parsed)
    return _info(row, parsed.config)


@router.get("/connectors/{name}/status")
def connector_status(name: str, store: StoreDep) -> dict[str, Any]:
    return _status_now(store, _get(store, name))


@router.get("/connectors/{name}/tasks")
def connector_tasks(name: str, store: StoreDep) -> list[dict[str, Any]]:
    """One entry per member slot, with MM2's task keys and the partitions it owns now."""
    row = _get(store, name)
    config = _config(row, _instances(store))
    current = _current(row, store.workers.members(row.id))
    out = []
    for slot in _connect_tasks(row):
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


@router.get("/connectors/{name}/topics")
def connector_topics(name: str, store: StoreDep) -> dict[str, Any]:
    """The target topics the connector writes to (KIP-558)."""
    row = _get(store, name)
    return {row.name: {"topics": sorted({t.target for t in row.topics})}}


@router.get("/connectors/{name}/offsets")
def connector_offsets(name: str, store: StoreDep) -> dict[str, Any]:
    """Committed progress in MM2's source-offset shape. MM2 stores the offset of the last
    record replicated (and resumes after it), so offset = committed position - 1, and a
    partition with nothing replicated yet has no entry."""
    row = _get(store, name)
    if row.reset_start is not None:
        return {"offsets": []}  # reset: the next start begins at the task's start point
    alias = _config(row, _instances(store)).get("source.cluster.alias", "source")
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
    row = _get(store, name)
    if row.desired != Desired.PAUSED:
        lifecycle.pause(store, row.id)
    return Response(status_code=202)


@router.put("/connectors/{name}/resume", status_code=202)
def resume_connector(name: str, store: StoreDep, settings: SettingsDep) -> Response:
    """Resume a paused connector (after the pause retention: from the latest offsets) or
    a stopped one (from its offsets however long it was stopped, as in Connect)."""
    row = _get(store, name)
    if row.desired == Desired.PAUSED:
        retention = lifecycle.NEVER_EXPIRES if _stopped(row) else settings.pause_retention
        lifecycle.start(store, row.id, None, retention)
    return Response(status_code=202)


@router.put("/connectors/{name}/stop", status_code=202)
def stop_connector(name: str, store: StoreDep) -> Response:
    """Members commit their progress and stop, as for pause; the connector shows STOPPED
    with no tasks, keeps its offsets until resumed, and its offsets can be reset."""
    row = _get(store, name)
    if _stopped(row):
        return Response(status_code=202)
    if row.desired != Desired.PAUSED:
        row = lifecycle.pause(store, row.id)
    paused_at = row.paused_at
    assert paused_at is not None  # set by every pause

    def mark(locked: TaskView) -> TaskChange:
        external = dict(locked.external or {})
        external["connect"] = {**_connect_ext(locked), "stopped_at": _stop_mark(paused_at)}
        return TaskChange(external=external)

    store.tasks.change(row.id, mark)
    return Response(status_code=202)


def _require_stopped(row: TaskView) -> None:
    if not _stopped(row):
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
    row = _get(store, name)
    _require_stopped(row)
    lifecycle.reset_progress(store, row.id)
    return {"message": "The offsets for this connector have been reset successfully"}


@router.patch("/connectors/{name}/offsets")
def alter_connector_offsets(name: str, store: StoreDep) -> dict[str, str]:
    """Not supported: ksync resets progress as a whole, not partition by partition."""
    row = _get(store, name)
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
    """Restart every member. 204 for a plain restart; with `includeTasks` or `onlyFailed`,
    202 and the status with RESTARTING on what restarts (Connect 3.0+)."""
    row = _get(store, name)
    before = _status_now(store, row)
    failed = before["connector"]["state"] == "FAILED" or any(
        t["state"] == "FAILED" for t in before["tasks"]
    )
    restarting = not onlyFailed or failed
    if restarting:
        lifecycle.restart(store, row.id)
    if not includeTasks and not onlyFailed:
        return Response(status_code=204)
    if restarting:
        before["connector"]["state"] = "RESTARTING"
        before["connector"].pop("trace", None)
        for task in before["tasks"]:
            task["state"] = "RESTARTING"
            task.pop("trace", None)
    return JSONResponse(before, status_code=202)


@router.delete("/connectors/{name}", status_code=204)
def delete_connector(name: str, store: StoreDep) -> Response:
    """Stop the sync; the connector is gone at once (copied data and topics stay)."""
    lifecycle.delete(store, _get(store, name).id)
    return Response(status_code=204)
