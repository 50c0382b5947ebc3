"""Second review, finding 2: the Connect face was an oracle for stored SASL passwords.

An instance found by its bootstrap servers had the config's password compared with the
stored one: a wrong guess was answered "registered with other security settings", the
right one got past it. A given password is now never compared (the stored one is used,
changed only through `PATCH /api/v1/instances/{id}`), so both answers are the same.
"""

from __future__ import annotations

from typing import Any

from ksync.store.repo import Store

from .conftest import AppFactory, add_instance

PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
STORED = "the-stored-password"


def config(password: str) -> dict[str, Any]:
    return {
        "connector.class": "MirrorSourceConnector",
        "source.cluster.bootstrap.servers": "127.0.0.1:19001",
        "source.cluster.security.protocol": "SASL_PLAINTEXT",
        "source.cluster.sasl.mechanism": "PLAIN",
        "source.cluster.sasl.jaas.config": f'{PLAIN} required username="app" password="{password}";',
        # The target is registered with SASL for user "ops": this config names another
        # user, so every request stops at the target, whatever the source's password.
        "target.cluster.bootstrap.servers": "127.0.0.1:19002",
        "target.cluster.security.protocol": "SASL_PLAINTEXT",
        "target.cluster.sasl.mechanism": "PLAIN",
        "target.cluster.sasl.jaas.config": f'{PLAIN} required username="dev" password="x";',
    }


def test_a_wrong_and_the_right_password_get_the_same_answer(make_client: AppFactory, store: Store) -> None:
    sasl = {"protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN"}
    source = add_instance(store, "src", "127.0.0.1:19001", **sasl, username="app", password=STORED)
    add_instance(store, "dst", "127.0.0.1:19002", **sasl, username="ops", password="other")
    client = make_client()
    answers = []
    for password in ("a-wrong-guess", STORED):
        for method, path, body in (
            ("POST", "/connectors", {"name": "c", "config": config(password)}),
            ("PUT", "/connectors/c/config", config(password)),
        ):
            r = client.request(method, path, json=body)
            answers.append((path, r.status_code, r.json()))
    wrong_post, wrong_put, right_post, right_put = answers
    assert wrong_post == right_post and wrong_put == right_put
    assert wrong_post[1] == 400 and wrong_post[2]["message"].startswith("target.cluster.security.protocol")
    # The stored password is untouched by either attempt.
    assert store.instances.spec(source).security.password.get_secret_value() == STORED  # type: ignore[union-attr]
