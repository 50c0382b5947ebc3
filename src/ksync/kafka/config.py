"""The one place that turns a `Connection` into librdkafka settings."""

from __future__ import annotations

from typing import Any

from ksync.spec import Connection


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
