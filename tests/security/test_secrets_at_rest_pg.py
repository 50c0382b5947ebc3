"""Secrets at rest on PostgreSQL: a `pg_dump` of the store holds no secret in clear, before
and after `ksync rotate-secret-key`; a worker on another machine (another data directory,
so another generated key) is refused at start with a sentence, not left to fail later."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from postgres_server import PostgresServer, _pg_bin, postgres_server
from pydantic import SecretStr
from typer.testing import CliRunner

from ksync.cli import app as cli
from ksync.server import open_store
from ksync.settings import Settings
from ksync.store.sealed import WrongSecretKey, key_id
from ksync.store.secret_key import KEY_FILE_NAME

from .test_secrets_at_rest import SECRETS, assert_opens, fill

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    with postgres_server() as server:
        yield server


@pytest.fixture
def db_url(pg: PostgresServer) -> str:
    import psycopg

    name = f"ksync_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg.url(name)


def dump(db_url: str) -> str:
    url = db_url.replace("postgresql+psycopg://", "postgresql://")
    done = subprocess.run(
        [str(_pg_bin() / "pg_dump"), "--dbname", url], capture_output=True, text=True, timeout=120, check=True
    )
    assert "CREATE TABLE public.instances" in done.stdout and "COPY public.instances" in done.stdout
    return done.stdout


def test_a_pg_dump_holds_no_secret_before_or_after_a_rotation(db_url: str, tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings(db_url=db_url, data_dir=data)
    store = open_store(settings)
    ids = fill(store)
    store.engine.dispose()
    for secret in SECRETS:
        assert secret not in dump(db_url), secret

    old = (data / KEY_FILE_NAME).read_text().strip()
    result = CliRunner().invoke(cli, ["rotate-secret-key", "--db-url", db_url, "--data-dir", str(data)], env={})
    assert result.exit_code == 0, result.output
    new = (data / KEY_FILE_NAME).read_text().strip()
    assert new != old and "3 secret(s) re-sealed" in result.output, result.output

    text = dump(db_url)
    for secret in SECRETS:
        assert secret not in text, secret
    assert f"ksync-sealed:v1:{key_id(base64.urlsafe_b64decode(new))}:" in text
    assert f"ksync-sealed:v1:{key_id(base64.urlsafe_b64decode(old))}:" not in text
    with pytest.raises(WrongSecretKey):
        open_store(Settings(db_url=db_url, data_dir=data, secret_key=SecretStr(old)))
    store = open_store(settings)
    assert_opens(store, ids)
    store.engine.dispose()


def test_a_worker_with_another_key_is_refused_at_start(db_url: str, tmp_path: Path) -> None:
    store = open_store(Settings(db_url=db_url, data_dir=tmp_path / "server"))
    fill(store)
    store.engine.dispose()
    elsewhere = tmp_path / "elsewhere"
    result = CliRunner().invoke(cli, ["worker", "--db-url", db_url, "--data-dir", str(elsewhere)], env={})
    assert result.exit_code == 2, result.output
    assert "the data directory's key file" in result.output and str(elsewhere / KEY_FILE_NAME) in result.output
    assert "--secret-key-file" in result.output, result.output
    # With the server's key file it starts (checked here up to the store: the key opens).
    key = tmp_path / "server" / KEY_FILE_NAME
    other = open_store(Settings(db_url=db_url, data_dir=elsewhere, secret_key_file=key))
    assert len(other.instances.all()) == 2
    other.engine.dispose()
