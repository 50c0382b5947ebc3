"""`ksync task …`: create, inspect, pause, start, restart and remove sync tasks over the
REST API (`ksync task watch` lives in `ksync.cli.watch`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from ksync.cli.calls import (
    EXIT_API_ERROR,
    EXIT_CODES,
    ApiKey,
    ApiUrl,
    CaCert,
    Output,
    Target,
    api,
    fail,
    object_id,
    target,
)
from ksync.cli.client import DEFAULT_URL, Json, KsyncClient, NotFoundError
from ksync.cli.output import cell, emit, emit_list, fields, indent, table
from ksync.spec import Compression, Delivery, StartType, SyncMode

app = typer.Typer(
    no_args_is_help=True,
    help="Create, inspect, pause, start, restart, watch and remove sync tasks (REST API client).",
    epilog=EXIT_CODES,
)

TaskId = Annotated[str, typer.Argument(help="Task id (task-…)", show_default=False)]


# ---- what a task looks like in a terminal ---------------------------------------------------


def lag_total(task: Json) -> int | None:
    """The task's lag summed over its partitions; None when none reports one."""
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


def _topic_count(topics: list[Json]) -> str:
    """'3', or '3 (1 blocked)' when some are not copied now."""
    blocked = sum(1 for m in topics if m.get("state") == "blocked")
    return f"{len(topics)} ({blocked} blocked)" if blocked else str(len(topics))


def _rows(tasks: list[Json]) -> str:
    return table(
        ["ID", "NAME", "STATUS", "SOURCE", "TARGET", "TOPICS", "LAG"],
        [
            [t["id"], t["name"], t["status"], t["source"]["instance_id"], t["target"]["instance_id"],
             _topic_count(t["topics"]) if t["topics"] else _selection(t["source"]), lag_total(t)]
            for t in tasks
        ],
    )


def _not_copied(metrics: Json) -> str | None:
    """Records lost to retention, dead-lettered and skipped since the task began, or None
    when there are none."""
    counts = [
        (metrics.get("lost_records_total") or 0, "lost to retention"),
        (metrics.get("dead_lettered_total") or 0, "dead-lettered"),
        (metrics.get("skipped_refused_total") or 0, "skipped (refused by the target)"),
    ]
    if not any(n for n, _ in counts):
        return None
    return ", ".join(f"{n} {what}" for n, what in counts)


def _start_text(start: Json) -> str:
    if start.get("type") == "timestamp":
        return f"timestamp {start.get('timestamp_ms')} ms"
    return str(start.get("type"))


def progress_table(progress: list[Json], rates: dict[tuple[str, int], float] | None = None) -> str:
    """Committed offset, end offset and lag per partition (and records/s when `rates`)."""
    headers = ["TOPIC", "PARTITION", "COMMITTED", "END", "LAG"]
    # Records the source deleted before they were copied: a column only when some were.
    lost = any(p.get("lost_records") for p in progress)
    if lost:
        headers.append("LOST")
    if rates is not None:
        headers.append("RECORDS/S")
    rows = []
    for p in progress:
        row = [p["topic"], p["partition"], p.get("committed_offset"), p.get("end_offset"), p.get("lag")]
        if lost:
            row.append(p.get("lost_records"))
        if rates is not None:
            rate = rates.get((p["topic"], p["partition"]))
            row.append(f"{rate:.1f}" if rate is not None else None)
        rows.append(row)
    return table(headers, rows)


_DELIVERY_HELP = (
    "at_least_once, or exactly_once: read_committed consumers of the target see each "
    "record once"
)


def _details(task: Json, events: list[Json] | None = None) -> str:
    src, dst, opt = task["source"], task["target"], task["options"]
    lines = [fields([
        ("id", task["id"]),
        ("name", task["name"]),
        ("status", task["status"]),
        ("error", task.get("error")),
        ("source", f"{src['instance_id']}  topics: {_selection(src) or '-'}  start: {_start_text(src['start'])}"),
        ("target", (f"{dst['instance_id']}  prefix: {dst['topic_prefix'] or '-'}  separator: "
                    f"{dst['separator']!r}  keep partition: {cell(dst['keep_partition'])}")),
        ("topic map", ", ".join(f"{s} -> {t}" for s, t in (dst.get("topic_map") or {}).items()) or None),
        ("options", ", ".join(f"{k.replace('_', ' ')} {cell(v)}" for k, v in opt.items() if v is not None)),
        ("paused at", task.get("paused_at")),
        ("created", task["created_at"]),
        ("copies", "records and topics" if task.get("copies_records", True)
         else "topics only (mode metadata: no record is copied)"),
        ("lag", lag_total(task)),
        ("not copied", _not_copied(task.get("metrics") or {})),
    ])]
    if task.get("warnings"):
        lines += ["warnings:", *(f"  - {w}" for w in task["warnings"])]
    if task.get("topics"):
        # A blocked topic is not copied now (retried at every refresh); ERROR says why.
        lines += ["topics:", indent(table(
            ["SOURCE", "TARGET", "PARTITIONS", "STATE", "ERROR"],
            [[m["source"], m["target"], m["partitions"], m.get("state", "syncing"), m.get("error")]
             for m in task["topics"]],
        ))]
        noted = [f"  - {m['source']}: {w}" for m in task["topics"] for w in m.get("warnings") or []]
        if noted:
            lines += ["topic warnings:", *noted]
    if task.get("progress"):
        lines += ["progress:", indent(progress_table(task["progress"]))]
    if events:
        lines += ["recent events:", indent(table(
            ["AT", "STATUS", "MESSAGE"], [[e["at"], e["status"], e["message"]] for e in events[:5]]
        ))]
    return "\n".join(lines)


# ---- reading a task from the command line ---------------------------------------------------


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
    kind = start if start is not None else "timestamp"
    if kind == "timestamp" and timestamp_ms is None:
        raise typer.BadParameter("--timestamp-ms is required with timestamp", param_hint=option)
    point: Json = {"type": kind}
    if timestamp_ms is not None:
        point["timestamp_ms"] = timestamp_ms  # the API names it when it does not fit the type
    return point


def _topic_map(pairs: list[str]) -> Json:
    """`--map SOURCE=TARGET` flags as target.topic_map (the API checks the names)."""
    out: Json = {}
    for pair in pairs:
        source, eq, name = pair.partition("=")
        if not eq or not source.strip() or not name.strip():
            raise typer.BadParameter(f"'{pair}' is not SOURCE=TARGET", param_hint="--map")
        out[source.strip()] = name.strip()
    return out


# ---- commands -------------------------------------------------------------------------------


@app.command("create", epilog=EXIT_CODES)
def create(
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
    target_: Annotated[str | None, typer.Option("--target", help="Target instance id", show_default=False)] = None,
    prefix: Annotated[str | None, typer.Option(help="Target topic name prefix (default: none)")] = None,
    separator: Annotated[str | None, typer.Option(help="Between prefix and source name (default: .)")] = None,
    keep_partition: Annotated[
        bool | None,
        typer.Option("--keep-partition/--no-keep-partition", help="Write partition p to p (default: keep)"),
    ] = None,
    topic_map: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="SOURCE=TARGET: the target topic of one source topic; repeat for more",
            show_default=False,
        ),
    ] = None,
    task_max: Annotated[int | None, typer.Option(help="Members (consumer/producer pairs) (default: 1)")] = None,
    sync_configs: Annotated[
        bool | None,
        typer.Option("--sync-configs/--no-sync-configs", help="Copy topic configs (default: sync)"),
    ] = None,
    mode: Annotated[
        SyncMode | None,
        typer.Option(
            help="data: copy records and keep topics in step; metadata: keep topics (partitions, "
            "configs) in step, copy no record (default: data)",
        ),
    ] = None,
    sync_acls: Annotated[
        bool | None,
        typer.Option(
            "--sync-acls/--no-sync-acls",
            help="Make the source's READ ACLs on the synced topics on the target topics (default: no)",
        ),
    ] = None,
    delivery: Annotated[
        Delivery | None,
        typer.Option(help=_DELIVERY_HELP + " (default: at_least_once)", show_default=False),
    ] = None,
    compression: Annotated[
        Compression | None, typer.Option(help="How the target producer compresses batches (default: none)")
    ] = None,
    linger_ms: Annotated[
        int | None, typer.Option(help="Producer wait to fill a batch, ms (default: 5)", show_default=False)
    ] = None,
    batch_bytes: Annotated[
        int | None,
        typer.Option(help="Cap on a producer batch, bytes (default: 1000000)", show_default=False),
    ] = None,
    fetch_max_bytes: Annotated[
        int | None,
        typer.Option(help="Most bytes per source fetch (default: 52428800)", show_default=False),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Task spec JSON (API body; '-' for stdin); flags override it"),
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Create a sync task from flags or a JSON spec file; it starts Unassigned and converges to Running."""
    t = target(api_url, api_key, output, ca_cert)
    spec = _load_spec_file(file) if file is not None else {}
    src_spec: Json = dict(spec.get("source") or {})
    dst_spec: Json = dict(spec.get("target") or {})
    opt_spec: Json = dict(spec.get("options") or {})
    point = _start_point(start, timestamp_ms, "--start")
    # Flags override the file, field by field; a flag not given leaves the file's value.
    flags: list[tuple[Json, str, Any]] = [
        (spec, "name", name),
        (src_spec, "instance_id", source),
        (src_spec, "topics", list(topic) if topic else None),
        (src_spec, "topic_regex", topic_regex),
        (src_spec, "exclude_regex", exclude_regex),
        (src_spec, "start", point),
        (dst_spec, "instance_id", target_),
        (dst_spec, "topic_prefix", prefix),
        (dst_spec, "separator", separator),
        (dst_spec, "keep_partition", keep_partition),
        (dst_spec, "topic_map", _topic_map(topic_map) if topic_map else None),
        (opt_spec, "task_max", task_max),
        (opt_spec, "sync_topic_configs", sync_configs),
        (opt_spec, "mode", mode),
        (opt_spec, "sync_topic_acls", sync_acls),
        (opt_spec, "delivery", delivery),
        (opt_spec, "compression", compression),
        (opt_spec, "linger_ms", linger_ms),
        (opt_spec, "batch_bytes", batch_bytes),
        (opt_spec, "fetch_max_bytes", fetch_max_bytes),
    ]
    for part, key, value in flags:
        if value is not None:
            part[key] = value
    missing = [flag for flag, ok in (
        ("--name", "name" in spec), ("--source", "instance_id" in src_spec), ("--target", "instance_id" in dst_spec)
    ) if not ok]
    if missing:
        raise typer.BadParameter(f"missing {', '.join(missing)} (give them as flags or in --file)")
    spec.update(source=src_spec, target=dst_spec)
    if opt_spec:
        spec["options"] = opt_spec
    with api(t) as client:
        task = client.create_task(spec)
    emit(t, task, lambda task: "\n".join([
        f"created {task['id']} ({task['name']}): {task['status']}",
        *(f"warning: {w}" for w in task.get("warnings", [])),
    ]))


@app.command("list", epilog=EXIT_CODES)
def list_(api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Every task with its status and total lag."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        tasks = client.list_tasks()
    emit_list(t, "tasks", tasks, _rows)


@app.command("show", epilog=EXIT_CODES)
def show(task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """One task: status, error, warnings, records not copied (lost to retention,
    dead-lettered, skipped), topics with their state (and why one is blocked) and their
    warnings, per-partition progress with lag (and records lost), recent events."""
    t = target(api_url, api_key, output, ca_cert)
    tid = object_id(task_id, "task")
    with api(t) as client:
        task = client.get_task(tid)
        if t.json:
            emit(t, task, _details)
            return
        try:
            events = client.task_events(tid)
        except NotFoundError:  # deleted between the two calls
            events = []
    typer.echo(_details(task, events))


def _request(t: Target, task_id: str, call: Callable[[KsyncClient, str], Json], what: str) -> None:
    """Send one lifecycle request for a task and report the status it answered with."""
    with api(t) as client:
        task = call(client, object_id(task_id, "task"))
    emit(t, task, lambda task: f"{task['id']}: {what}; status now {task['status']}")


@app.command("pause", epilog=EXIT_CODES)
def pause(task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Members commit their progress and stop; the status becomes Paused."""
    _request(target(api_url, api_key, output, ca_cert), task_id, KsyncClient.pause_task, "pause requested")


@app.command("start", epilog=EXIT_CODES)
def start(
    task_id: TaskId,
    from_: Annotated[
        StartType | None,
        typer.Option("--from", help="Start point if the pause retention has expired (default: latest)"),
    ] = None,
    timestamp_ms: Annotated[int | None, typer.Option(help="With --from timestamp: epoch ms")] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Resume a paused task, or try a failed one again."""
    point = _start_point(from_, timestamp_ms, "--from")
    _request(target(api_url, api_key, output, ca_cert), task_id, lambda c, tid: c.start_task(tid, point), "start requested")


@app.command("set", epilog=EXIT_CODES)
def set_(
    task_id: TaskId,
    delivery: Annotated[Delivery, typer.Option(help=_DELIVERY_HELP + "; pause the task first")],
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Change a task's delivery guarantee (its progress is kept); refused while it runs."""
    _request(
        target(api_url, api_key, output, ca_cert),
        task_id,
        lambda c, tid: c.update_task(tid, {"options": {"delivery": delivery}}),
        f"delivery now {delivery}",
    )


@app.command("reset", epilog=EXIT_CODES)
def reset(
    task_id: TaskId,
    from_: Annotated[
        StartType | None,
        typer.Option("--from", help="Where the next start copies from (default: the task's start point)"),
    ] = None,
    timestamp_ms: Annotated[int | None, typer.Option(help="With --from timestamp: epoch ms")] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Forget a paused task's progress: its next start copies every topic from the start
    point (a source topic deleted and created again included)."""
    point = _start_point(from_, timestamp_ms, "--from")
    _request(target(api_url, api_key, output, ca_cert), task_id, lambda c, tid: c.reset_task(tid, point), "progress reset")


@app.command("restart", epilog=EXIT_CODES)
def restart(task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Stop and start every member; progress is kept."""
    _request(target(api_url, api_key, output, ca_cert), task_id, KsyncClient.restart_task, "restart requested")


@app.command("rm", epilog=EXIT_CODES)
def rm(task_id: TaskId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Stop the sync and forget the task; copied data, topics and instances stay."""
    _request(target(api_url, api_key, output, ca_cert), task_id, KsyncClient.delete_task, "delete requested")


def _group_offsets(answer: Json) -> str:
    if not answer["enabled"]:
        return "consumer-group offset sync is off for this task (options.sync_group_offsets)"
    head = (
        f"every {answer['interval_s']:g}s; a consumer that fails over re-reads at most "
        f"{answer['reread_bound']} records per partition"
    )
    if not answer["offsets"]:
        return head + "\nno selected group has committed offsets on the synced topics yet"
    rows = [
        [
            r["group"],
            f"{r['topic']}[{r['partition']}]",
            r["source_offset"],
            f"{r['target_topic']}[{r['partition']}]",
            r["target_offset"],
            r["target_committed"],
            r["lag"],
            r["synced_at"],
            r["note"],
        ]
        for r in answer["offsets"]
    ]
    headers = ["GROUP", "SOURCE", "OFFSET", "TARGET", "TRANSLATED", "COMMITTED", "LAG", "SYNCED", "NOTE"]
    return head + "\n" + table(headers, rows)


@app.command("group-offsets", epilog=EXIT_CODES)
def group_offsets(
    task_id: TaskId,
    reset: Annotated[
        str | None,
        typer.Option(
            "--reset",
            help="Write this group's translated offsets at the next sync even where that "
            "lowers the target group's (offsets otherwise only move forward)",
        ),
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Consumer-group offset sync: per group and partition the committed source offset,
    its translation on the target, what the target group committed, when it was last
    synced and why not."""
    t = target(api_url, api_key, output, ca_cert)
    tid = object_id(task_id, "task")
    with api(t) as client:
        if reset is not None:
            answer = client.reset_group_offsets(tid, reset)
        else:
            answer = client.group_offsets(tid)
    emit(t, answer, _group_offsets)


# A step's state as a terminal shows it, before its sentence.
_MARKS = {
    "ok": "[ok]  ",
    "failed": "[FAIL]",
    "pending": "[..]  ",
    "todo": "[DO]  ",
    "waiting": "[wait]",
    "cut_over": "[done]",
    "checked": "[done]",
    "refused": "[FAIL]",
    "timed_out": "[FAIL]",
}


def cutover_line(step: Json) -> str:
    """One streamed step for people: its mark and sentence, a multi-line result indented."""
    mark = _MARKS.get(str(step.get("state")), f"[{step.get('state')}]")
    first, *rest = str(step.get("message", "")).split("\n")
    return "\n".join([f"{mark} {first}", *(f"       {line}" for line in rest)])


@app.command("cutover", epilog=EXIT_CODES + " A refused or timed-out cutover exits 1.")
def cutover(
    task_id: TaskId,
    group: Annotated[str, typer.Option("--group", "-g", help="The consumer group to move to the target", show_default=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only run the checks and say what would happen; write nothing")] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1.0, max=3600.0, help="Seconds to wait for the source to drain and the offsets to land"),
    ] = 300.0,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Move a consumer group to the task's target, step by step: check the task and the
    group, say which producers to stop, wait until the source stands still and its last
    records and the group's offsets are on the target, then print the target's bootstrap
    servers, topics and the offset each partition resumes from. Each step is printed as it
    happens (with -o json, one JSON object a line)."""
    t = target(api_url, api_key, output, ca_cert)
    tid = object_id(task_id, "task")
    result: Json | None = None
    with api(t) as client:
        try:
            for step in client.cutover(tid, group, dry_run, timeout):
                if t.json:
                    typer.echo(json.dumps(step))
                else:
                    typer.echo(cutover_line(step))
                if step.get("step") == "result":
                    result = step
        except KeyboardInterrupt:
            fail(
                EXIT_API_ERROR,
                "cutover abandoned: the server stops at its next step; see where the group "
                f"stands with: ksync task group-offsets {tid}",
            )
    if result is None:
        fail(
            EXIT_API_ERROR,
            "the server ended the cutover without a result; see where the group stands with: "
            f"ksync task group-offsets {tid}",
        )
    if result.get("state") not in ("cut_over", "checked"):
        raise typer.Exit(EXIT_API_ERROR)
