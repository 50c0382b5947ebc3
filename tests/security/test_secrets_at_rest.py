"""Secrets at rest, on the SQLite store: instance passwords and CA certificates are sealed
(the store's files hold none of them in clear), the key file is made 0600 on first start,
a wrong key stops a process at start with a sentence naming the key's source, secrets an
earlier ksync stored in clear are sealed at the first start after the upgrade, and
`ksync rotate-secret-key` re-seals every secret with a new key."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from pydantic import SecretStr
from sqlalchemy import text
from typer.testing import CliRunner

from ksync.cli import app as cli
from ksync.server import open_store
from ksync.settings import Settings
from ksync.store.db import MIGRATIONS, make_engine, sqlite_url
from ksync.store.repo import Store
from ksync.store.sealed import Sealer, WrongSecretKey, key_id
from ksync.store.secret_key import KEY_FILE_NAME

from .conftest import add_instance

PASSWORD = "pw-at-rest-Zq81"
OTHER_PASSWORD = "pw-at-rest-Kx27"
CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBcaPemAtRestQk3v9\n-----END CERTIFICATE-----\n"
SECRETS = (PASSWORD, OTHER_PASSWORD, "MIIBcaPemAtRestQk3v9")
SASL = {"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "alice"}


def fill(store: Store) -> dict[str, str]:
    """Two SASL instances (one with a CA too); returns their ids by password."""
    return {
        PASSWORD: add_instance(store, "one", **SASL, password=PASSWORD, ca_pem=CA_PEM),
        OTHER_PASSWORD: add_instance(store, "two", **SASL, password=OTHER_PASSWORD),
    }


def assert_no_secret_in(folder: Path) -> None:
    files = [f for f in folder.iterdir() if f.is_file() and f.name != KEY_FILE_NAME]
    assert any(f.name == "ksync.db" for f in files), files
    for file in files:
        data = file.read_bytes()
        for secret in SECRETS:
            assert secret.encode() not in data, (file.name, secret)


def assert_opens(store: Store, ids: dict[str, str]) -> None:
    for password, instance in ids.items():
        security = store.instances.connection(instance).security
        assert security.password is not None and security.password.get_secret_value() == password
    assert store.instances.spec(ids[PASSWORD]).security.ca_pem == SecretStr(CA_PEM)


def env_key(data: Path) -> str:
    return (data / KEY_FILE_NAME).read_text().strip()


def test_the_store_file_holds_no_secret_in_clear_and_the_key_file_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(Settings(data_dir=data))
    ids = fill(store)
    assert_opens(store, ids)
    store.engine.dispose()  # SQLite writes the WAL back into the file: both are grepped
    assert_no_secret_in(data)
    key_file = data / KEY_FILE_NAME
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert len(base64.urlsafe_b64decode(key_file.read_text().strip())) == 32
    # A second start reads the same key: the secrets still open.
    assert_opens(open_store(Settings(data_dir=data)), ids)


def test_a_wrong_key_stops_the_start_with_a_sentence_naming_its_source(tmp_path: Path) -> None:
    data = tmp_path / "data"
    fill(open_store(Settings(data_dir=data)))
    stored_id = key_id(base64.urlsafe_b64decode(env_key(data)))
    wrong = base64.urlsafe_b64encode(os.urandom(32)).decode()
    with pytest.raises(WrongSecretKey) as caught:
        open_store(Settings(data_dir=data, secret_key=SecretStr(wrong)))
    message = str(caught.value)
    assert "KSYNC_SECRET_KEY" in message and stored_id in message, message
    assert key_id(base64.urlsafe_b64decode(wrong)) in message and wrong not in message, message

    # A real `ksync server` exits at once, the sentence on stderr, nothing served.
    other = tmp_path / "other.key"
    other.write_text(wrong + "\n")
    other.chmod(0o600)
    done = subprocess.run(
        [sys.executable, "-m", "ksync", "server", "--data-dir", str(data), "--port", "0",
         "--secret-key-file", str(other)],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"--secret-key-file ({other})" in done.stderr and stored_id in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("env", "args", "expected"),
    [
        ({"KSYNC_SECRET_KEY": "not-a-key"}, [], "KSYNC_SECRET_KEY does not hold a secret key"),
        ({}, ["--secret-key-file", "{tmp}/absent.key"], "--secret-key-file: there is no file"),
        ({"KSYNC_SECRET_KEY": base64.urlsafe_b64encode(b"k" * 32).decode()},
         ["--secret-key-file", "{tmp}/absent.key"], "not both"),
    ],
)
def test_a_worker_without_a_usable_key_exits_2_with_a_sentence(
    tmp_path: Path, env: dict[str, str], args: list[str], expected: str
) -> None:
    argv = ["worker", "--data-dir", str(tmp_path / "data"), *[a.replace("{tmp}", str(tmp_path)) for a in args]]
    result = CliRunner().invoke(cli, argv, env=env)
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "not-a-key" not in result.output


def test_secrets_an_earlier_ksync_stored_in_clear_are_sealed_at_the_upgrade(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = make_engine(sqlite_url(data))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0009_group_offsets")  # the store before sealing
        conn.execute(
            text(
                "INSERT INTO instances (id, name, bootstrap_servers, security, cluster_id, "
                "broker_count, created_at, updated_at) VALUES ('ins-old00001', 'old', "
                "'127.0.0.1:1', :security, 'c', 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {"security": f'{{"protocol": "SASL_SSL", "sasl_mechanism": "PLAIN", "username": "alice", '
                         f'"password": "{PASSWORD}", "ca_pem": null}}'},
        )
    engine.dispose()
    assert PASSWORD.encode() in b"".join(f.read_bytes() for f in data.iterdir())

    store = open_store(Settings(data_dir=data))
    assert store.instances.connection("ins-old00001").security.password == SecretStr(PASSWORD)
    assert_no_secret_in(data)  # even before the store is closed: no old page keeps it


def rotate(*args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(cli, ["rotate-secret-key", *args], env=env or {})
    assert result.exit_code == 0, result.output
    return result.output


def test_rotate_reseals_every_secret_with_a_new_key_in_the_key_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = fill(open_store(Settings(data_dir=data)))
    old = env_key(data)

    output = rotate("--data-dir", str(data))
    new = env_key(data)
    assert new != old and (data / KEY_FILE_NAME).stat().st_mode & 0o777 == 0o600
    new_id = key_id(base64.urlsafe_b64decode(new))
    assert f"3 secret(s) re-sealed with secret key {new_id}" in output, output
    assert not any(p.name.endswith(".new") for p in data.iterdir())

    with pytest.raises(WrongSecretKey):
        open_store(Settings(data_dir=data, secret_key=SecretStr(old)))
    assert_opens(open_store(Settings(data_dir=data)), ids)
    assert_no_secret_in(data)


def test_rotate_to_a_named_key_file_leaves_the_old_one_and_refuses_a_wrong_old_key(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ids = fill(open_store(Settings(data_dir=data)))
    old = env_key(data)
    new_file = tmp_path / "new.key"

    wrong = base64.urlsafe_b64encode(os.urandom(32)).decode()
    result = CliRunner().invoke(
        cli, ["rotate-secret-key", "--data-dir", str(data), "--new-secret-key-file", str(new_file)],
        env={"KSYNC_SECRET_KEY": wrong},
    )
    assert result.exit_code == 2 and "KSYNC_SECRET_KEY" in result.output, result.output
    assert_opens(open_store(Settings(data_dir=data)), ids)  # nothing changed

    output = rotate("--data-dir", str(data), "--new-secret-key-file", str(new_file))
    assert f"--secret-key-file {new_file}" in output, output
    assert new_file.stat().st_mode & 0o777 == 0o600 and env_key(data) == old
    with pytest.raises(WrongSecretKey):
        open_store(Settings(data_dir=data))
    assert_opens(open_store(Settings(data_dir=data, secret_key_file=new_file)), ids)


def test_a_sealed_value_opens_only_with_its_key_for_its_field() -> None:
    sealer = Sealer(os.urandom(32), "key A")
    sealed = sealer.seal(PASSWORD, "password")
    assert sealed.startswith(f"ksync-sealed:v1:{sealer.key_id}:") and PASSWORD not in sealed
    assert sealer.seal(PASSWORD, "password") != sealed  # a fresh nonce each time
    assert sealer.open(sealed, "password") == PASSWORD
    with pytest.raises(WrongSecretKey, match="altered"):
        sealer.open(sealed, "ca_pem")  # moved into another field
    at = len(sealed) - 10  # inside the token: a full base64 digit, no padding bits
    flipped = sealed[:at] + ("A" if sealed[at] != "A" else "B") + sealed[at + 1 :]
    with pytest.raises(WrongSecretKey, match="altered"):
        sealer.open(flipped, "password")
    other = Sealer(os.urandom(32), "key B")
    with pytest.raises(WrongSecretKey, match=f"sealed with secret key {sealer.key_id}.*key B"):
        other.open(sealed, "password")


def test_rotate_refuses_while_a_worker_runs_on_the_store(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = open_store(Settings(data_dir=data))
    ids = fill(store)
    store.workers.heartbeat("busy-worker", "host", 4242, [])
    old = env_key(data)
    result = CliRunner().invoke(cli, ["rotate-secret-key", "--data-dir", str(data)], env={})
    assert result.exit_code == 2 and "busy-worker" in result.output and "stop every" in result.output, result.output
    assert env_key(data) == old and not any(p.name.endswith(".new") for p in data.iterdir())
    assert_opens(open_store(Settings(data_dir=data)), ids)
