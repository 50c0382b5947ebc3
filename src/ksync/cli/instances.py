"""`ksync instance …`: register, inspect and remove Kafka instances over the REST API."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ksync.cli.calls import (
    EXIT_CODES,
    ApiKey,
    ApiUrl,
    CaCert,
    Output,
    api,
    object_id,
    target,
)
from ksync.cli.client import DEFAULT_URL, Json
from ksync.cli.output import emit, emit_list, emit_removed, fields, table
from ksync.spec import SaslMechanism, SecurityProtocol

app = typer.Typer(
    no_args_is_help=True,
    help="Register, inspect and remove Kafka instances (REST API client).",
    epilog=EXIT_CODES,
)

InstanceId = Annotated[str, typer.Argument(help="Instance id (ins-…)", show_default=False)]


def _rows(instances: list[Json]) -> str:
    return table(
        ["ID", "NAME", "BOOTSTRAP SERVERS", "REGION", "ZONE", "SECURITY", "CLUSTER", "BROKERS"],
        [
            [i["id"], i["name"], i["bootstrap_servers"], i.get("region"), i.get("zone"),
             i["security"]["protocol"], i["cluster_id"], i["broker_count"]]
            for i in instances
        ],
    )


# Fields that `instance show` lays out itself; any other (newer) field follows them.
_SHOWN = {
    "id", "name", "bootstrap_servers", "region", "zone", "security", "cluster_id", "broker_count",
    "created_at", "updated_at",
}


def _details(i: Json) -> str:
    sec = i["security"]
    return fields([
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
        *[(k.replace("_", " "), v) for k, v in i.items() if k not in _SHOWN and v is not None],
        ("created", i["created_at"]),
        ("updated", i["updated_at"]),
    ])


@app.command("add", epilog=EXIT_CODES)
def add(
    name: Annotated[str, typer.Argument(help="A name for people", show_default=False)],
    bootstrap_servers: Annotated[
        str, typer.Option("--bootstrap-servers", "-b", help="host:port[,host:port…]", show_default=False)
    ],
    region: Annotated[str | None, typer.Option(help="Region label, e.g. ap-guangzhou")] = None,
    zone: Annotated[str | None, typer.Option(help="Zone label")] = None,
    security_protocol: Annotated[
        SecurityProtocol, typer.Option(help="How ksync connects to the cluster")
    ] = "PLAINTEXT",
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
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Register a Kafka instance; the server connects to it first (up to 10 s)."""
    t = target(api_url, api_key, output, ca_cert)
    security: Json = {"protocol": security_protocol}
    if sasl_mechanism is not None:
        security["sasl_mechanism"] = sasl_mechanism
    if username is not None:
        security["username"] = username
    if security_protocol.startswith("SASL_"):
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
    with api(t) as client:
        ins = client.add_instance(spec)
    emit(t, ins, lambda i: (
        f"added {i['id']} ({i['name']}): Kafka cluster {i['cluster_id']}, "
        f"{i['broker_count']} broker(s)"
    ))


@app.command("list", epilog=EXIT_CODES)
def list_(api_url: ApiUrl = DEFAULT_URL, api_key: ApiKey = None, ca_cert: CaCert = None, output: Output = "table") -> None:
    """Every registered instance."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        instances = client.list_instances()
    emit_list(t, "instances", instances, _rows)


@app.command("show", epilog=EXIT_CODES)
def show(
    instance_id: InstanceId,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """One instance (secrets are never shown: the API does not return them)."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        ins = client.get_instance(object_id(instance_id, "instance"))
    emit(t, ins, _details)


@app.command("topics", epilog=EXIT_CODES)
def topics(
    instance_id: InstanceId,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """The instance's topics with partitions and replication factor."""
    t = target(api_url, api_key, output, ca_cert)
    with api(t) as client:
        found = client.instance_topics(object_id(instance_id, "instance"))
    emit_list(t, "topics", found, lambda rows: table(
        ["TOPIC", "PARTITIONS", "REPLICATION"],
        [[x["name"], x["partitions"], x["replication_factor"]] for x in rows],
    ))


@app.command("rm", epilog=EXIT_CODES)
def rm(
    instance_id: InstanceId,
    api_url: ApiUrl = DEFAULT_URL,
    api_key: ApiKey = None,
    ca_cert: CaCert = None,
    output: Output = "table",
) -> None:
    """Forget an instance (refused while a task uses it); the cluster is untouched."""
    t = target(api_url, api_key, output, ca_cert)
    iid = object_id(instance_id, "instance")
    with api(t) as client:
        client.delete_instance(iid)
    emit_removed(t, iid)
