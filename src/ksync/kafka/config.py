"""The one place that turns a `Connection` into librdkafka settings and clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from confluent_kafka import KafkaException

from ksync.kafka.errors import ClientSettingsError, wrap
from ksync.spec import Connection

C = TypeVar("C")


def client_config(conn: Connection, **overrides: Any) -> dict[str, Any]:
    """librdkafka settings to reach `conn`, secrets included, plus `overrides`."""
    sec = conn.security
    conf: dict[str, Any] = {
        "bootstrap.servers": conn.bootstrap_servers,
        "security.protocol": sec.protocol,
        # Fail fast on a broker that vanished instead of librdkafka's long default.
        "socket.connection.setup.timeout.ms": 10_000,
        "reconnect.backoff.max.ms": 5_000,
        # Errors reach ksync through error_cb and results; librdkafka's own log would
        # repeat every reconnect attempt to stderr.
        "log_level": 2,
        "log.connection.close": False,
    }
    if sec.sasl_mechanism:
        conf["sasl.mechanism"] = sec.sasl_mechanism
        conf["sasl.username"] = sec.username
        conf["sasl.password"] = sec.password.get_secret_value() if sec.password else ""
    if sec.ca_pem is not None:
        conf["ssl.ca.pem"] = sec.ca_pem.get_secret_value()
    conf.update(overrides)
    return conf


def new_client(kind: Callable[[dict[str, Any]], C], conn: Connection, **overrides: Any) -> C:
    """A `kind` client (Producer, Consumer, AdminClient) for `conn` with `overrides`.

    librdkafka checks some settings before connecting (a CA that is not PEM, for one):
    its refusal becomes a ClientSettingsError naming the instance, for every client alike.
    """
    try:
        return kind(client_config(conn, **overrides))
    except KafkaException as exc:
        reason = wrap(exc, f"the Kafka client refuses the settings of instance {conn.instance_id}")
        raise ClientSettingsError(str(reason), reason.code) from None
