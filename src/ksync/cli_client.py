"""`ksync instance …` and `ksync task …`: the REST API from a terminal.

Every command takes `--api-url` (env KSYNC_API_URL), `--api-key` (env KSYNC_API_KEY) and
`--output table|json`. Tables are for people; `--output json` prints the API's JSON for
scripts. Exit codes are part of the interface (see EXIT_CODES).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ksync.client import (
    DEFAULT_URL,
    ApiError,
    Json,
    KsyncClient,
    NotFoundError,
    Unauthorized,
    Unreachable,
)

EXIT_OK, EXIT_API_ERROR, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4

EXIT_CODES = (
    "Exit codes: 0 ok; 1 the API refused the call (its message is printed on stderr, "
    "e.g. 401 unauthorized or 422 naming the field); 2 usage error; "
    "3 cannot reach the server at --api-url; 4 not found."
)

instance_app = typer.Typer(
    no_args_is_help=True,
    help="Register, inspect and remove Kafka instances (REST API client).",
    epilog=EXIT_CODES,
)
task_app = typer.Typer(
    no_args_is_help=True,
    help="Create, inspect, pause, start, restart, watch and remove sync tasks (REST API client).",
    epilog=EXIT_CODES,
)


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


class StartType(str, Enum):
    earliest = "earliest"
    latest = "latest"
    timestamp = "timestamp"


class SecurityProtocol(str, Enum):
    PLAINTEXT = "PLAINTEXT"
    SSL = "SSL"
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    SASL_SSL = "SASL_SSL"


class SaslMechanism(str, Enum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    SCRAM_SHA_512 = "SCRAM-SHA-512"


# Options every command takes.
ApiUrl = Annotated[
    str,
    typer.Option("--api-url", envvar="KSYNC_API_URL", help="Base URL of the ksync server"),
]
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key", envvar="KSYNC_API_KEY", show_default=False,
        help="API key (secret), sent as 'Authorization: Bearer'",
    ),
]
Output = Annotated[OutputFormat, typer.Option("--output", "-o", help="table for people, json for scripts")]
InstanceId = Annotated[str, typer.Argument(help="Instance id (ins-…)", show_default=False)]
TaskId = Annotated[str, typer.Argument(help="Task id (task-…)", show_default=False)]


@dataclass(frozen=True)
class Target:
    """Where and how to call the API, and how to print the answer."""

    url: str
    key: str | None
    output: OutputFormat

    @property
    def json(self) -> bool:
        return self.output is OutputFormat.json


def _target(url: str, key: str | None, output: OutputFormat) -> Target:
    if not url.startswith(("http://", "https://")):
        raise typer.BadParameter(f"'{url}' must start with http:// or https://", param_hint="--api-url")
    return Target(url, key or None, output)


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _client(t: Target) -> Iterator[KsyncClient]:
    """A client whose failures become the documented exit codes (message on stderr)."""
    try:
        with KsyncClient(t.url, t.key) as client:
            yield client
    except Unreachable as exc:
        _fail(EXIT_UNREACHABLE, str(exc))
    except NotFoundError as exc:
        _fail(EXIT_NOT_FOUND, exc.message)
    except Unauthorized as exc:
        hint = "give --api-key or set KSYNC_API_KEY" if t.key is None else "check --api-key"
        _fail(EXIT_API_ERROR, f"401 unauthorized: {exc.message} ({hint})")
    except ApiError as exc:
        _fail(EXIT_API_ERROR, f"{exc.status} {exc.code}: {exc.message}")


def _id(value: str, what: str) -> str:
    if not value.strip():
        raise typer.BadParameter(f"{what} id must not be empty")
    return value.strip()


def _emit_list(t: Target, key: str, items: list[Json], render: Callable[[list[Json]], str]) -> None:
    """A list as JSON (`{key: items}`, the API's shape), as "no <key>", or rendered."""
    if t.json:
        _print_json({key: items})
    elif not items:
        typer.echo(f"no {key}")
    else:
        typer.echo(render(items))


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


# Plain-text rendering: no truncation and no terminal-width guessing, so names survive
# pipes and narrow terminals.


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell; the last column is not padded."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        padded = [v.ljust(w) for v, w in zip(values[:-1], widths[:-1], strict=True)]
        return "  ".join([*padded, values[-1]]).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _fields(pairs: Sequence[tuple[str, Any]]) -> str:
    width = max(len(k) for k, _ in pairs) + 1
    return "\n".join(f"{(k + ':').ljust(width)}  {_cell(v)}" for k, v in pairs)


def _indent(text: str, by: str = "  ") -> str:
    return "\n".join(by + line for line in text.splitlines())


# Instances


def _instance_rows(instances: list[Json]) -> str:
    return table(
        ["ID", "NAME", "BOOTSTRAP SERVERS", "REGION", "ZONE", "SECURITY", "CLUSTER", "BROKERS"],
        [
            [i["id"], i["name"], i["bootstrap_servers"], i.get("region"), i.get("zone"),
             i["security"]["protocol"], i["cluster_id"], i["broker_count"]]
            for i in instances
        ],
    )


# Fields that `instance show` lays out itself; any other (newer) field follows them.
_INSTANCE_SHOWN = {
    "id", "name", "bootstrap_servers", "region", "zone", "security", "cluster_id", "broker_count",
    "created_at", "updated_at",
}


def _instance_details(i: Json) -> str:
    sec = i["security"]
    return _fields([
        ("id", i["id"]),
        ("name", i["name"]),
        ("bootstrap servers", i["bootstrap_servers"]),
        ("region", i.get("region")),
        ("zone", i.get("zone")),
        ("security", sec["protocol"]),
        ("sasl mechanism", sec.get("sasl_mechanism")),
        ("username", sec.get("username")),
        ("cluster id", i["cluster_id"]),
        ("brokers", i["broker_count"]),
        *[(k.replace("_", " "), v) for k, v in i.items() if k not in _INSTANCE_SHOWN and v is not None],
        ("created", i["created_at"]),
        ("updated", i["updated_at"]),
    ])


@instance_app.command("add", epilog=EXIT_CODES)
def instance_add(
    name: Annotated[str, typer.Argument(help="A name for people", show_default=False)],
    bootstrap_servers: Annotated[
        str, typer.Option("--bootstrap-servers", "-b", help="host:port[,host:port…]", show_default=False)
    ],
    region: Annotated[str | None, typer.Option(help="Region label, e.g. ap-guangzhou")] = None,
    zone: Annotated[str | None, typer.Option(help="Zone label")] = None,
    security_protocol: Annotated[
        SecurityProtocol, typer.Option(help="How ksync connects to the cluster")
    ] = SecurityProtocol.PLAINTEXT,
    sasl_mechanism: Annotated[SaslMechanism | None, typer.Option(help="With SASL_* protocols")] = None,
    username: Annotated[str | None, typer.Option(help="SASL user name")] = None,
    password: Annotated[
        str | None,
        typer.Option(
            envvar="KSYNC_INSTANCE_PASSWORD", show_default=False,
            help="SASL password (better: env KSYNC_INSTANCE_PASSWORD; prompted for when "
            "a SASL protocol is used at a terminal without one)",
        ),
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """Register a Kafka instance; the server connects to it first (up to 10 s)."""
    t = _target(api_url, api_key, output)
    security: Json = {"protocol": security_protocol.value}
    if sasl_mechanism is not None:
        security["sasl_mechanism"] = sasl_mechanism.value
    if username is not None:
        security["username"] = username
    if security_protocol.value.startswith("SASL_"):
        if password is None and sys.stdin.isatty():
            password = typer.prompt("SASL password", hide_input=True)
        # Only here: a KSYNC_INSTANCE_PASSWORD set for SASL instances must not make the
        # server refuse a PLAINTEXT or SSL one (it refuses settings a protocol never uses).
        if password is not None:
            security["password"] = password
    spec: Json = {"name": name, "bootstrap_servers": bootstrap_servers, "security": security}
    if region is not None:
        spec["region"] = region
    if zone is not None:
        spec["zone"] = zone
    with _client(t) as client:
        ins = client.add_instance(spec)
    if t.json:
        _print_json(ins)
    else:
        typer.echo(
            f"added {ins['id']} ({ins['name']}): Kafka cluster {ins['cluster_id']}, "
            f"{ins['broker_count']} broker(s)"
        )


@instance_app.command("list", epilog=EXIT_CODES)
def instance_list(api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, output: Output = OutputFormat.table) -> None:
    """Every registered instance."""
    t = _target(api_url, api_key, output)
    with _client(t) as client:
        instances = client.list_instances()
    _emit_list(t, "instances", instances, _instance_rows)


@instance_app.command("show", epilog=EXIT_CODES)
def instance_show(
    instance_id: InstanceId,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """One instance (secrets are never shown: the API does not return them)."""
    t = _target(api_url, api_key, output)
    with _client(t) as client:
        ins = client.get_instance(_id(instance_id, "instance"))
    _print_json(ins) if t.json else typer.echo(_instance_details(ins))


@instance_app.command("topics", epilog=EXIT_CODES)
def instance_topics(
    instance_id: InstanceId,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """The instance's topics with partitions and replication factor."""
    t = _target(api_url, api_key, output)
    with _client(t) as client:
        topics = client.instance_topics(_id(instance_id, "instance"))
    _emit_list(t, "topics", topics, lambda rows: table(
        ["TOPIC", "PARTITIONS", "REPLICATION"],
        [[x["name"], x["partitions"], x["replication_factor"]] for x in rows],
    ))


@instance_app.command("rm", epilog=EXIT_CODES)
def instance_rm(
    instance_id: InstanceId,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """Forget an instance (refused while a task uses it); the cluster is untouched."""
    t = _target(api_url, api_key, output)
    iid = _id(instance_id, "instance")
    with _client(t) as client:
        client.delete_instance(iid)
    _print_json({"id": iid, "deleted": True}) if t.json else typer.echo(f"removed {iid}")


# Tasks


def _lag_total(task: Json) -> int | None:
    lags = [p["lag"] for p in task.get("progress", []) if p.get("lag") is not None]
    return sum(lags) if lags else None


def _selection(source: Json) -> str:
    parts = []
    if source.get("topics"):
        parts.append(",".join(source["topics"]))
    if source.get("topic_regex"):
        parts.append(f"/{source['topic_regex']}/")
    if source.get("exclude_regex"):
        parts.append(f"minus /{source['exclude_regex']}/")
    return " ".join(parts)


def _task_rows(tasks: list[Json]) -> str:
    return table(
        ["ID", "NAME", "STATUS", "SOURCE", "TARGET", "TOPICS", "LAG"],
        [
            [t["id"], t["name"], t["status"], t["source"]["instance_id"], t["target"]["instance_id"],
             len(t["topics"]) if t["topics"] else _selection(t["source"]), _lag_total(t)]
            for t in tasks
        ],
    )


def _start_text(start: Json) -> str:
    if start.get("type") == "timestamp":
        return f"timestamp {start.get('timestamp_ms')} ms"
    return str(start.get("type"))


def _progress_table(progress: list[Json], rates: dict[tuple[str, int], float] | None = None) -> str:
    headers = ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"]
    if rates is not None:
        headers.append("RECORDS/S")
    rows = []
    for p in progress:
        row = [p["topic"], p["partition"], p.get("committed_offset"), p.get("end_offset"), p.get("lag")]
        if rates is not None:
            rate = rates.get((p["topic"], p["partition"]))
            row.append(f"{rate:.1f}" if rate is not None else None)
        rows.append(row)
    return table(headers, rows)


def _task_details(task: Json, events: list[Json] | None = None) -> str:
    src, dst, opt = task["source"], task["target"], task["options"]
    lines = [_fields([
        ("id", task["id"]),
        ("name", task["name"]),
        ("status", task["status"]),
        ("error", task.get("error")),
        ("source", f"{src['instance_id']}  topics: {_selection(src) or '-'}  start: {_start_text(src['start'])}"),
        ("target", (f"{dst['instance_id']}  prefix: {dst['topic_prefix'] or '-'}  separator: "
                    f"{dst['separator']!r}  keep partition: {_cell(dst['keep_partition'])}")),
        ("options", ", ".join(f"{k.replace('_', ' ')} {_cell(v)}" for k, v in opt.items() if v is not None)),
        ("paused at", task.get("paused_at")),
        ("created", task["created_at"]),
        ("lag", _lag_total(task)),
    ])]
    if task.get("warnings"):
        lines += ["warnings:", *(f"  - {w}" for w in task["warnings"])]
    if task.get("topics"):
        lines += ["topics:", _indent(table(
            ["SOURCE", "TARGET", "PARTITIONS"],
            [[m["source"], m["target"], m["partitions"]] for m in task["topics"]],
        ))]
    if task.get("progress"):
        lines += ["progress:", _indent(_progress_table(task["progress"]))]
    if events:
        lines += ["recent events:", _indent(table(
            ["AT", "STATUS", "MESSAGE"], [[e["at"], e["status"], e["message"]] for e in events[:5]]
        ))]
    return "\n".join(lines)


def _load_spec_file(path: Path) -> Json:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="--file") from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{path} is not JSON: {exc.msg} at line {exc.lineno}", param_hint="--file") from None
    if not isinstance(spec, dict):
        raise typer.BadParameter(f"{path} must hold a JSON object (a task spec)", param_hint="--file")
    return spec


def _start_point(start: StartType | None, timestamp_ms: int | None, option: str) -> Json | None:
    if start is None and timestamp_ms is None:
        return None
    kind = start.value if start is not None else "timestamp"
    if kind == "timestamp" and timestamp_ms is None:
        raise typer.BadParameter("--timestamp-ms is required with timestamp", param_hint=option)
    point: Json = {"type": kind}
    if timestamp_ms is not None:
        point["timestamp_ms"] = timestamp_ms  # the API names it when it does not fit the type
    return point


@task_app.command("create", epilog=EXIT_CODES)
def task_create(
    name: Annotated[str | None, typer.Option(help="Task name (unique)", show_default=False)] = None,
    source: Annotated[str | None, typer.Option(help="Source instance id", show_default=False)] = None,
    topic: Annotated[
        list[str] | None, typer.Option("--topic", "-t", help="Source topic; repeat for more", show_default=False)
    ] = None,
    topic_regex: Annotated[str | None, typer.Option(help="Select source topics by regex")] = None,
    exclude_regex: Annotated[str | None, typer.Option(help="Leave out topics matching this regex")] = None,
    start: Annotated[
        StartType | None, typer.Option(help="Start point of partitions without progress (default: earliest)")
    ] = None,
    timestamp_ms: Annotated[int | None, typer.Option(help="With --start timestamp: epoch ms")] = None,
    target: Annotated[str | None, typer.Option(help="Target instance id", show_default=False)] = None,
    prefix: Annotated[str | None, typer.Option(help="Target topic name prefix (default: none)")] = None,
    separator: Annotated[str | None, typer.Option(help="Between prefix and source name (default: .)")] = None,
    keep_partition: Annotated[
        bool | None,
        typer.Option("--keep-partition/--no-keep-partition", help="Write partition p to p (default: keep)"),
    ] = None,
    task_max: Annotated[int | None, typer.Option(help="Members (consumer/producer pairs) (default: 1)")] = None,
    sync_configs: Annotated[
        bool | None,
        typer.Option("--sync-configs/--no-sync-configs", help="Copy topic configs (default: sync)"),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Task spec JSON (API body; '-' for stdin); flags override it"),
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """Create a sync task from flags or a JSON spec file; it starts Unassigned and converges to Running."""
    t = _target(api_url, api_key, output)
    spec = _load_spec_file(file) if file is not None else {}
    src_spec: Json = dict(spec.get("source") or {})
    dst_spec: Json = dict(spec.get("target") or {})
    opt_spec: Json = dict(spec.get("options") or {})
    if name is not None:
        spec["name"] = name
    if source is not None:
        src_spec["instance_id"] = source
    if topic:
        src_spec["topics"] = list(topic)
    if topic_regex is not None:
        src_spec["topic_regex"] = topic_regex
    if exclude_regex is not None:
        src_spec["exclude_regex"] = exclude_regex
    point = _start_point(start, timestamp_ms, "--start")
    if point is not None:
        src_spec["start"] = point
    if target is not None:
        dst_spec["instance_id"] = target
    if prefix is not None:
        dst_spec["topic_prefix"] = prefix
    if separator is not None:
        dst_spec["separator"] = separator
    if keep_partition is not None:
        dst_spec["keep_partition"] = keep_partition
    if task_max is not None:
        opt_spec["task_max"] = task_max
    if sync_configs is not None:
        opt_spec["sync_topic_configs"] = sync_configs
    missing = [flag for flag, ok in (
        ("--name", "name" in spec), ("--source", "instance_id" in src_spec), ("--target", "instance_id" in dst_spec)
    ) if not ok]
    if missing:
        raise typer.BadParameter(f"missing {', '.join(missing)} (give them as flags or in --file)")
    spec.update(source=src_spec, target=dst_spec)
    if opt_spec:
        spec["options"] = opt_spec
    with _client(t) as client:
        task = client.create_task(spec)
    if t.json:
        _print_json(task)
    else:
        typer.echo(f"created {task['id']} ({task['name']}): {task['status']}")
        for w in task.get("warnings", []):
            typer.echo(f"warning: {w}")


@task_app.command("list", epilog=EXIT_CODES)
def task_list(api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, output: Output = OutputFormat.table) -> None:
    """Every task with its status and total lag."""
    t = _target(api_url, api_key, output)
    with _client(t) as client:
        tasks = client.list_tasks()
    _emit_list(t, "tasks", tasks, _task_rows)


@task_app.command("show", epilog=EXIT_CODES)
def task_show(
    task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, output: Output = OutputFormat.table
) -> None:
    """One task: status, error, warnings, topics, per-partition progress with lag, recent events."""
    t = _target(api_url, api_key, output)
    tid = _id(task_id, "task")
    with _client(t) as client:
        task = client.get_task(tid)
        if t.json:
            _print_json(task)
            return
        try:
            events = client.task_events(tid)
        except NotFoundError:  # deleted between the two calls
            events = []
    typer.echo(_task_details(task, events))


def _task_request(t: Target, task_id: str, call: Callable[[KsyncClient, str], Json], what: str) -> None:
    """Send one lifecycle request for a task and report the status it answered with."""
    with _client(t) as client:
        task = call(client, _id(task_id, "task"))
    if t.json:
        _print_json(task)
    else:
        typer.echo(f"{task['id']}: {what}; status now {task['status']}")


@task_app.command("pause", epilog=EXIT_CODES)
def task_pause(
    task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, output: Output = OutputFormat.table
) -> None:
    """Members commit their progress and stop; the status becomes Paused."""
    _task_request(_target(api_url, api_key, output), task_id, KsyncClient.pause_task, "pause requested")


@task_app.command("start", epilog=EXIT_CODES)
def task_start(
    task_id: TaskId,
    from_: Annotated[
        StartType | None,
        typer.Option("--from", help="Start point if the pause retention has expired (default: latest)"),
    ] = None,
    timestamp_ms: Annotated[int | None, typer.Option(help="With --from timestamp: epoch ms")] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """Resume a paused task, or try a failed one again."""
    point = _start_point(from_, timestamp_ms, "--from")
    _task_request(
        _target(api_url, api_key, output), task_id, lambda c, tid: c.start_task(tid, point), "start requested"
    )


@task_app.command("restart", epilog=EXIT_CODES)
def task_restart(
    task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, output: Output = OutputFormat.table
) -> None:
    """Stop and start every member; progress is kept."""
    _task_request(_target(api_url, api_key, output), task_id, KsyncClient.restart_task, "restart requested")


@task_app.command("rm", epilog=EXIT_CODES)
def task_rm(
    task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, output: Output = OutputFormat.table
) -> None:
    """Stop the sync and forget the task; copied data, topics and instances stay."""
    _task_request(_target(api_url, api_key, output), task_id, KsyncClient.delete_task, "delete requested")


class _Rates:
    """Records per second per partition, from committed offsets between two refreshes."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[tuple[str, int], int]] | None = None

    def update(self, progress: list[Json]) -> tuple[dict[tuple[str, int], float], float | None]:
        now = time.monotonic()
        offsets = {
            (p["topic"], p["partition"]): p["committed_offset"]
            for p in progress if p.get("committed_offset") is not None
        }
        rates: dict[tuple[str, int], float] = {}
        total: float | None = None
        if self._last is not None and now > self._last[0]:
            then, before = self._last
            for key, offset in offsets.items():
                if key in before:
                    rates[key] = max(0, offset - before[key]) / (now - then)
            total = sum(rates.values())
        self._last = (now, offsets)
        return rates, total


def _watch_frame(task: Json, rates: dict[tuple[str, int], float], total: float | None, interval: float) -> str:
    committed = sum(p["committed_offset"] or 0 for p in task["progress"])
    head = [
        (
            f"{task['id']}  {task['name']}  {task['status']}    "
            f"(every {interval:g}s, Ctrl-C to stop)  {time.strftime('%H:%M:%S')}"
        ),
        (
            f"committed offsets: {committed}   records/s: "
            f"{'-' if total is None else f'{total:.1f}'}   lag: {_cell(_lag_total(task))}"
        ),
    ]
    if task.get("error"):
        head.append(f"error: {task['error']}")
    head += [f"warning: {w}" for w in task.get("warnings", [])]
    body = _progress_table(task["progress"], rates) if task["progress"] else "no progress reported yet"
    return "\n".join([*head, "", body])


@task_app.command("watch", epilog=EXIT_CODES)
def task_watch(
    task_id: TaskId,
    interval: Annotated[float, typer.Option(min=0.1, help="Seconds between refreshes")] = 2.0,
    count: Annotated[
        int | None, typer.Option(min=1, help="Exit after this many refreshes (scripts)", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    output: Output = OutputFormat.table,
) -> None:
    """Refresh a task's status, records/s and lag in place (json: one line per refresh)."""
    t = _target(api_url, api_key, output)
    tid = _id(task_id, "task")
    redraw = sys.stdout.isatty() and not t.json
    rates = _Rates()
    shown = 0
    try:
        with _client(t) as client:
            while True:
                task = client.get_task(tid)
                per_partition, total = rates.update(task["progress"])
                shown += 1
                if t.json:
                    typer.echo(json.dumps(task))
                else:
                    frame = _watch_frame(task, per_partition, total, interval)
                    # Clear and redraw at a terminal; separate frames in a pipe or a file.
                    typer.echo("\x1b[H\x1b[2J" + frame if redraw else ("" if shown == 1 else "\n") + frame)
                if count is not None and shown >= count:
                    return
                time.sleep(interval)
    except KeyboardInterrupt:
        raise typer.Exit(EXIT_OK) from None
