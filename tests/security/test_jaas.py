"""Second review, finding 1: one JAAS value froze the whole process.

The JAAS option regex was searched unanchored, so a long word with no `=` backtracked at
every start position: `"x required " + "a" * 30000` held `/healthz` for 8.7 s (the cost
grows with the square of the length; Python's `re` holds the interpreter lock). JAAS
values are now read by a tokenizer that jumps from `=` to `=`, and config values are
capped at 64 KiB.

No timed assertion on the linear cost: on the old code a 1 MiB adversarial value costs
hours, the tokenizer milliseconds, so a bound of a minute tells them apart on any
machine, loaded or not.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable

import pytest

from ksync.api.compat.connect.hiding import HIDDEN, MAX_VALUE_CHARS, hide_jaas, jaas_options

from .conftest import AppFactory

MIB = 1 << 20
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
# Inputs that made a backtracking JAAS parser quadratic: long words with no `=`, many
# unclosed quotes, escape runs, keys and spaces.
ADVERSARIAL = (
    "('x required ' + 'a' * N)",
    "('x required ' + 'a=\"\\\\' * (N // 4))",
    "('x required ' + '\"\\\\' * (N // 2))",
    "('x required ' + 'username=\"\\\\\"' * (N // 12))",
    "('x required ' + ' ' * N + 'a')",
)


def test_hiding_and_parsing_a_1_mib_jaas_value_is_linear() -> None:
    # In a child process: a quadratic match holds the interpreter lock, so this process
    # could not even notice its own deadline.
    code = textwrap.dedent(
        f"""
        from ksync.api.compat.connect.hiding import hide_jaas, jaas_options, TooManyOptions
        N = {MIB}
        for text in [{", ".join(ADVERSARIAL)}]:
            hide_jaas(text)
            hide_jaas(text[:{MAX_VALUE_CHARS}])
            try:
                jaas_options(text)
            except TooManyOptions:
                pass
        print("done")
        """
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
        )
    except subprocess.TimeoutExpired:
        pytest.fail("hiding 1 MiB JAAS values did not finish in 60 s (a linear parser takes ms)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"


def test_the_tokenizer_keeps_what_the_regex_hid() -> None:
    text = (
        f'{PLAIN} required username="al\\"ice" password="se;cr=et" token = bare '
        '"x=y" clientSecret="unclosed'
    )
    options = jaas_options(text)
    assert [(o.key, o.value, o.quoted) for o in options] == [
        ("username", '"al\\"ice"', True),
        ("password", '"se;cr=et"', True),
        ("token", "bare", False),
        ("x", "y", False),
        ("clientSecret", '"unclosed', False),
    ]
    hidden = hide_jaas(text)
    assert 'username="al\\"ice"' in hidden
    for secret in ("se;cr=et", "bare", "unclosed"):
        assert secret not in hidden
    assert hidden.count(HIDDEN) == 4
    # Over the cap, a value is hidden whole without being read.
    assert hide_jaas(f"{PLAIN} required " + "a" * MAX_VALUE_CHARS) == HIDDEN


def test_an_over_long_config_value_is_refused_naming_the_key(make_client: AppFactory) -> None:
    client = make_client()
    config = {
        "name": "long",
        "connector.class": "MirrorSourceConnector",
        "source.cluster.bootstrap.servers": "127.0.0.1:1",
        "target.cluster.bootstrap.servers": "127.0.0.1:2",
        "source.cluster.security.protocol": "SASL_PLAINTEXT",
        "source.cluster.sasl.mechanism": "PLAIN",
        "source.cluster.sasl.jaas.config": f"{PLAIN} required " + "a" * MAX_VALUE_CHARS,
    }
    r = client.post("/connectors", json={"name": "long", "config": config})
    assert r.status_code == 400, r.text
    assert "source.cluster.sasl.jaas.config" in r.json()["message"]
    assert f"at most {MAX_VALUE_CHARS} characters" in r.json()["message"]
    assert client.get("/connectors").json() == []


def _healthz(address: str) -> int:
    host, _, port = address.rpartition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", "/healthz")
        return conn.getresponse().status
    finally:
        conn.close()


def test_a_1_mib_jaas_value_is_answered_and_healthz_never_waits(
    serve: Callable[..., str],
) -> None:
    address = serve(max_body_bytes=2 * MIB)
    host, _, port = address.rpartition(":")
    config = {
        "name": "frozen",
        "connector.class": "MirrorSourceConnector",
        "foo.sasl.jaas.config": "x required " + "a" * MIB,
    }
    body = json.dumps(config).encode()
    answers: list[int] = []
    health: list[int] = []
    stop = threading.Event()

    def poll_health() -> None:
        while not stop.is_set():
            health.append(_healthz(address))

    poller = threading.Thread(target=poll_health, name="healthz-poller")
    poller.start()
    try:
        for _ in range(3):
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            try:
                conn.request(
                    "PUT",
                    "/connector-plugins/MirrorSourceConnector/config/validate",
                    body=body,
                    headers={"content-type": "application/json"},
                )
                response = conn.getresponse()
                answers.append(response.status)
                shown = json.loads(response.read())
            finally:
                conn.close()
    finally:
        stop.set()
        poller.join(timeout=90)
    assert answers == [200, 200, 200]
    value = next(c["value"] for c in shown["configs"] if c["definition"]["name"] == "foo.sasl.jaas.config")
    assert value["value"] == HIDDEN
    assert value["errors"] and "at most" in value["errors"][0]
    # The 60 s socket timeouts are the bound: /healthz kept answering meanwhile.
    assert health and set(health) == {200}
