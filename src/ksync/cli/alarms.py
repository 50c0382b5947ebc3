"""`ksync alarm …`: define, inspect, change and remove alarm rules, and read the alarm
events they caused, over the REST API (the server checks every rule and names the field
it refuses)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ksync.cli.calls import EXIT_CODES, ApiKey, ApiUrl, CaCert, Output, api, object_id, target
from ksync.cli.client import DEFAULT_URL, Json
from ksync.cli.output import emit, emit_list, emit_removed, fields, indent, table
from ksync.domain.alarms import METRICS

app = typer.Typer(
    no_args_is_help=True,
    help="Define, inspect, change and remove alarm rules; list alarm events (REST API client).",
    epilog=EXIT_CODES,
)

RuleId = Annotated[str, typer.Argument(help="Alarm rule id (alarm-…)", show_default=False)]
Metric = Annotated[
    str | None, typer.Option(help=f"What the rule watches: {', '.join(METRICS)}", show_default=False)
]
Comparison = Annotated[
    str | None,
    typer.Option(help="How the value is compared: > >= < <= == != (default: == for status and flags)"),
]
Threshold = Annotated[
    float | None, typer.Option(help="The number compared with (records, ms, records/s; 0/1 for flags)")
]
Status = Annotated[str | None, typer.Option(help="With --metric status: the task status compared with")]
Duration = Annotated[
    float | None, typer.Option("--for", help="Seconds the condition must hold before it fires (default: 0)")
]
Webhook = Annotated[
    list[str] | None, typer.Option("--webhook", "-w", help="URL to POST events to; repeat for more")
]
TaskOption = Annotated[str | None, typer.Option("--task", help="The task watched (default: every task)")]


def condition(rule: Json) -> str:
    """'lag > 10000 for 60 s', 'status == Failed'."""
    target_value = rule["status"] if rule["metric"] == "status" else _number(rule["threshold"])
    held = f" for {_number(rule['duration_s'])} s" if rule.get("duration_s") else ""
    return f"{rule['metric']} {rule['comparison']} {target_value}{held}"


def _number(value: float) -> str:
    """60.0 -> '60', 0.5 -> '0.5'."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _alerts_text(rule: Json) -> str:
    alerts = rule.get("alerts") or []
    firing = sum(1 for a in alerts if a["state"] == "firing")
    if not alerts:
        return "ok"
    pending = len(alerts) - firing
    return ", ".join(p for p in (f"{firing} firing" if firing else "", f"{pending} pending" if pending else "") if p)


def _rows(rules: list[Json]) -> str:
    return table(
        ["ID", "NAME", "TASK", "CONDITION", "ENABLED", "ALERTS"],
        [[r["id"], r["name"], r["task_id"] or "every task", condition(r), r["enabled"], _alerts_text(r)] for r in rules],
    )


def _details(rule: Json) -> str:
    lines = [fields([
        ("id", rule["id"]),
        ("name", rule["name"]),
        ("task", rule["task_id"] or "every task"),
        ("condition", condition(rule)),
        ("enabled", rule["enabled"]),
        ("webhooks", ", ".join(rule["webhooks"])),
        ("created", rule["created_at"]),
        ("updated", rule["updated_at"]),
    ])]
    if rule.get("alerts"):
        lines += ["alerts:", indent(table(
            ["TASK", "STATE", "SINCE", "FIRING SINCE", "VALUE"],
            [[a["task_id"], a["state"], a["since"], a.get("firing_since"), a.get("value")] for a in rule["alerts"]],
        ))]
    return "\n".join(lines)


def _event_rows(events: list[Json]) -> str:
    return table(
        ["ID", "AT", "KIND", "RULE", "TASK", "MESSAGE"],
        [[e["id"], e["at"], e["kind"], e["rule_id"], e["task_id"], e["payload"].get("message")] for e in events],
    )


def _given(**values: Any) -> Json:
    """The options given (not None), as API fields."""
    return {k: v for k, v in values.items() if v is not None}


@app.command("create", epilog=EXIT_CODES)
def create(
    name: Annotated[str, typer.Argument(help="A name for people", show_default=False)],
    metric: Metric = None,
    comparison: Comparison = None,
    threshold: Threshold = None,
    status: Status = None,
    duration: Duration = None,
    webhook: Webhook = None,
    task: TaskOption = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Define it switched off")] = False,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Define an alarm rule, e.g. `ksync alarm create lag-high --metric lag --comparison '>'
    --threshold 10000 --for 60 -w https://hooks.example/ksync`."""
    t = target(api_url, api_key, output, ca_cert)
    if metric is None:
        raise typer.BadParameter(f"--metric is required: one of {', '.join(METRICS)}", param_hint="--metric")
    if not webhook:
        raise typer.BadParameter("give at least one --webhook URL", param_hint="--webhook")
    spec = _given(
        name=name, task_id=task, metric=metric, comparison=comparison, threshold=threshold,
        status=status, duration_s=duration, webhooks=list(webhook),
    )
    if disabled:
        spec["enabled"] = False
    with api(t) as client:
        rule = client.create_alarm(spec)
    emit(t, rule, lambda r: f"created {r['id']} ({r['name']}): {condition(r)}")


@app.command("list", epilog=EXIT_CODES)
def list_(api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Every alarm rule, with what is pending or firing now."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        rules = client.list_alarms()
    emit_list(t, "alarms", rules, _rows)


@app.command("show", epilog=EXIT_CODES)
def show(rule_id: RuleId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """One rule: its condition, webhooks and the tasks it is pending or firing for."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        rule = client.get_alarm(object_id(rule_id, "alarm rule"))
    emit(t, rule, _details)


@app.command("edit", epilog=EXIT_CODES)
def edit(
    rule_id: RuleId,
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    metric: Metric = None,
    comparison: Comparison = None,
    threshold: Threshold = None,
    status: Status = None,
    duration: Duration = None,
    webhook: Webhook = None,
    task: TaskOption = None,
    enabled: Annotated[
        bool | None, typer.Option("--enable/--disable", help="Switch the rule on or off", show_default=False)
    ] = None,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Change the fields given (a new --metric drops the old comparison and threshold)."""
    t = target(api_url, api_key, output, ca_cert)
    patch = _given(
        name=name, task_id=task, metric=metric, comparison=comparison, threshold=threshold,
        status=status, duration_s=duration, webhooks=list(webhook) if webhook else None, enabled=enabled,
    )
    if not patch:
        raise typer.BadParameter("nothing to change: give at least one option")
    with api(t) as client:
        rule = client.update_alarm(object_id(rule_id, "alarm rule"), patch)
    emit(t, rule, lambda r: f"changed {r['id']} ({r['name']}): {condition(r)}")


@app.command("rm", epilog=EXIT_CODES)
def rm(rule_id: RuleId, api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Forget a rule; what it had firing resolves, its events stay."""
    t = target(api_url, api_key, output, ca_cert)
    rid = object_id(rule_id, "alarm rule")
    with api(t) as client:
        client.delete_alarm(rid)
    emit_removed(t, rid)


@app.command("events", epilog=EXIT_CODES)
def events(
    rule: Annotated[str | None, typer.Option("--rule", help="Only this rule's events")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only this task's events")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first")] = 100,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Firing, resolved and test events, newest first."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        found = client.alarm_events(rule, task, limit)
    emit_list(t, "events", found, _event_rows)
