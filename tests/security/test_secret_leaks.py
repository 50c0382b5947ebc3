"""Finding 7: secrets do not leak sideways.

* `GET /connectors/{name}/config` returned secrets inside keys ksync does not use: a JAAS
  config's `clientSecret="…"`, `basic.auth.user.info`, tokens. Every JAAS value but the
  login module and username is now hidden, and so is every key that looks like a secret,
  when a config is stored and again when it is shown (configs stored before are covered).
* The data directory and SQLite file were created with the default umask (world-readable
  on most systems): now 0700 and 0600.
* A PostgreSQL URL with a password could only be given on the command line (visible to
  every local user in the process list): now also `KSYNC_DB_URL` or `--db-url-file`.
* A whole run that used secrets (SASL passwords, a CA, wrong and refused passwords) shows
  none of them in its log, answers, events, metrics or store files (secrets at rest:
  `test_secrets_at_rest.py`).
"""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import httpx
import pytest
from e2e.security_support import register, sasl, tls
from helpers import create_topic, read_all, running_server, task_body, wait_status
from lifecycle.support import produce_now
from typer.testing import CliRunner

from ksync.api.compat.connect.hiding import HIDDEN, hide_secrets
from ksync.cli import app as cli
from ksync.devkafka import KafkaCluster
from ksync.devkafka.kafka import SUPER_USER
from ksync.settings import Settings
from ksync.spec import TaskSpec
from ksync.store.db import make_engine, migrate, sqlite_url
from ksync.store.repo import Store

from .conftest import AppFactory, add_instance

SECRETS = ("oauth-S3cret", "jaas-pw-1", "basic-pw-2", "tok-3", "api-key-4", "cred-5", "bearer-6")
LEAKY = {
    "name": "leaky",
    "connector.class": "MirrorSourceConnector",
    "source.cluster.sasl.jaas.config": (
        "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required "
        'clientId="ksync" clientSecret="oauth-S3cret" username="alice" password="jaas-pw-1" '
        'scope="x";'
    ),
    "source.cluster.schema.registry.basic.auth.user.info": "bob:basic-pw-2",
    "consumer.sasl.oauthbearer.token": "tok-3",
    "producer.override.some.api.key": "api-key-4",
    "aws.credentials": "cred-5",
    "headers.authorization": "Bearer bearer-6",
    "topics": "orders",
}


def test_hide_secrets_keeps_the_login_module_and_username_only() -> None:
    shown = hide_secrets(LEAKY)
    jaas = shown["source.cluster.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ")
    assert 'username="alice"' in jaas and f'clientId="{HIDDEN}"' in jaas and f'password="{HIDDEN}"' in jaas
    for secret in SECRETS:
        assert secret not in str(shown), secret
    assert shown["topics"] == "orders" and shown["name"] == "leaky"


def test_get_config_hides_secrets_stored_before(make_client: AppFactory, store: Store) -> None:
    # A config stored as an earlier ksync stored it (only `password` hidden).
    src, dst = add_instance(store, "src"), add_instance(store, "dst")
    spec = TaskSpec.model_validate(
        {"name": "leaky", "source": {"instance_id": src, "topics": ["orders"]}, "target": {"instance_id": dst}}
    )
    store.tasks.add(spec, [], external={"connect": {"config": dict(LEAKY), "ignored": []}})
    client = make_client()
    for path in ("/connectors/leaky/config", "/connectors/leaky", "/connectors?expand=info"):
        r = client.get(path)
        assert r.status_code == 200, r.text
        for secret in SECRETS:
            assert secret not in r.text, (path, secret)
        assert 'username=\\"alice\\"' in r.text, r.text


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_data_directory_and_sqlite_files_are_private(tmp_path: Path) -> None:
    data = tmp_path / "ksync-data"
    engine = make_engine(sqlite_url(data))
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("SELECT 1")
    assert mode(data) == 0o700
    files = sorted(data.iterdir())
    assert files, "no database file"
    for file in files:
        assert mode(file) == 0o600, (file.name, oct(mode(file)))


def test_an_existing_database_file_is_made_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = data / "ksync.db"
    db.touch(mode=0o644)
    db.chmod(0o644)
    sqlite_url(data)
    assert mode(db) == 0o600


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    """The settings `ksync worker` / `ksync server` would run with (nothing is started)."""
    seen: list[Settings] = []
    monkeypatch.setattr("ksync.server.run_worker", seen.append)
    monkeypatch.setattr("ksync.server.run_server", seen.append)
    return seen


URL = "postgresql+psycopg://ksync:pg-Secret-7@db.internal/ksync"


@pytest.mark.parametrize("command", ["worker", "server"])
def test_the_database_url_comes_from_the_environment_or_a_file(
    captured: list[Settings], tmp_path: Path, command: str
) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, [command], env={"KSYNC_DB_URL": URL})
    assert result.exit_code == 0, result.output
    assert captured[-1].db_url == URL

    url_file = tmp_path / "db-url"
    url_file.write_text(URL + "\n")
    result = runner.invoke(cli, [command, "--db-url-file", str(url_file)], env={})
    assert result.exit_code == 0, result.output
    assert captured[-1].db_url == URL


def test_a_missing_or_doubled_database_url_is_a_usage_error(captured: list[Settings], tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["worker", "--db-url-file", str(tmp_path / "none")], env={})
    assert result.exit_code == 2 and "--db-url-file" in result.output, result.output
    url_file = tmp_path / "db-url"
    url_file.write_text(URL)
    result = runner.invoke(cli, ["worker", "--db-url-file", str(url_file), "--db-url", URL], env={})
    assert result.exit_code == 2 and "either" in result.output, result.output
    assert "pg-Secret-7" not in result.output
    assert captured == []


WRONG_PASSWORD = "wrong-Leak-Pw-4t"
REFUSED_PASSWORD = "refused-Leak-Pw-8k"


def test_a_run_that_used_secrets_shows_none_of_them_anywhere(
    kafka_pair: tuple[KafkaCluster, KafkaCluster], tmp_path: Path
) -> None:
    """A server at DEBUG copies from a SASL/PLAIN source to a SCRAM target and registers a
    TLS instance; callers also send a wrong password and a password the protocol refuses.
    No secret is in its log, in any answer (errors included), in task events, in
    /metrics, or in the store's files."""
    source, target = kafka_pair
    user, password = SUPER_USER
    ca_line = next(line for line in source.ca_pem.splitlines()[1:] if len(line) >= 40)
    secrets = (password, WRONG_PASSWORD, REFUSED_PASSWORD, ca_line)
    answers: list[str] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        answers.append(f"{response.request.method} {response.request.url} {response.status_code} {response.text}")

    topic = f"leak-{uuid.uuid4().hex[:6]}"
    create_topic(source, topic, 1)
    with running_server(str(tmp_path), "--log-level", "DEBUG") as srv:
        client = httpx.Client(base_url=srv.url, timeout=30, event_hooks={"response": [keep]})
        src = register(client, "leak-src", source.sasl_bootstrap, sasl("PLAIN", user, password))
        dst = register(client, "leak-dst", target.sasl_bootstrap, sasl("SCRAM-SHA-512", user, password))
        tls_id = register(client, "leak-tls", source.ssl_bootstrap, tls(source.ca_pem))
        wrong = client.post(
            "/api/v1/instances",
            json={"name": "wrong", "bootstrap_servers": source.sasl_bootstrap,
                  "security": sasl("PLAIN", user, WRONG_PASSWORD)},
        )
        assert wrong.status_code == 422, wrong.text
        refused = client.post(
            "/api/v1/instances",
            json={"name": "refused", "bootstrap_servers": source.bootstrap,
                  "security": {"protocol": "PLAINTEXT", "password": REFUSED_PASSWORD}},
        )
        assert refused.status_code == 422 and "security.password" in refused.text, refused.text
        moved = client.patch(f"/api/v1/instances/{src}", json={"bootstrap_servers": source.bootstrap})
        assert moved.status_code == 422, moved.text

        r = client.post("/api/v1/tasks", json=task_body(src, dst, topics=[topic]))
        assert r.status_code == 202, r.text
        task = r.json()["id"]
        wait_status(client, task, "Running")
        produce_now(source, topic, 1, "leak", 20)
        read_all(target, topic, 1, expected=20)
        for path in ("/api/v1/instances", f"/api/v1/instances/{src}", f"/api/v1/instances/{tls_id}",
                     f"/api/v1/instances/{dst}/topics", "/api/v1/tasks", f"/api/v1/tasks/{task}",
                     f"/api/v1/tasks/{task}/events", f"/api/v1/tasks/{task}/metrics", "/api/v1/workers",
                     "/metrics", "/connectors?expand=info&expand=status"):
            client.get(path)
        client.close()
    log = Path(srv.log_path).read_text(errors="replace")
    assert "DEBUG" in log and len(answers) >= 15, (len(answers), log[-2000:])
    stored = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("ksync.db"))
    assert b"ksync-sealed:v1:" in stored
    for secret in secrets:
        assert secret not in log, secret
        for answer in answers:
            assert secret not in answer, (secret, answer[:300])
        assert secret.encode() not in stored, secret
