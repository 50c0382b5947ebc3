"""`ksync server`, `ksync worker` and `ksync demo`: the commands that run ksync itself.

Options are validated once, here, into `Settings`; a bad one exits 2 naming the option.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from ksync.control.lifecycle import DEFAULT_PAUSE_RETENTION
from ksync.settings import DEFAULT_DATA_DIR, Settings
from ksync.store.secret_key import KEY_ENV

# Settings fields whose option is not the field's name with dashes (and no `_s` unit).
_OPTION_OF = {
    "allowed_hosts": "--allowed-host",
    "webhook_allow": "--webhook-allow",
    "bootstrap_refuse": "--bootstrap-refuse",
}


def _option(field: str) -> str:
    return _OPTION_OF.get(field) or "--" + field.removesuffix("_s").replace("_", "-")


def _settings(**values: Any) -> Settings:
    """Validate options once, here; a bad one exits 2 naming the option."""
    try:
        return Settings(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        for err in exc.errors():
            message = str(err["msg"]).removeprefix("Value error, ")
            typer.echo(f"error: {_option(str(err['loc'][0]))}: {message}", err=True)
        raise typer.Exit(2) from None


DbUrl = Annotated[
    str | None,
    typer.Option(
        envvar="KSYNC_DB_URL",
        help="Store URL, e.g. postgresql+psycopg://user@host/db (default: SQLite in --data-dir); "
        "with a password, prefer KSYNC_DB_URL or --db-url-file: the command line is visible to "
        "every local user",
    ),
]
DbUrlFile = Annotated[
    Path | None,
    typer.Option(help="A file holding the store URL (instead of --db-url / KSYNC_DB_URL)"),
]


def _db_url(db_url: str | None, db_url_file: Path | None) -> str | None:
    """The store URL from exactly one of its sources; exits 2 naming the option."""
    if db_url_file is None:
        return db_url
    if db_url is not None:
        typer.echo(
            "error: --db-url-file: give the store URL either with --db-url (or KSYNC_DB_URL) "
            "or with --db-url-file, not both",
            err=True,
        )
        raise typer.Exit(2)
    try:
        url = db_url_file.read_text().strip()
    except OSError as exc:
        typer.echo(f"error: --db-url-file: cannot read {db_url_file} ({exc.strerror})", err=True)
        raise typer.Exit(2) from None
    if not url:
        typer.echo(f"error: --db-url-file: {db_url_file} is empty", err=True)
        raise typer.Exit(2)
    return url


SecretKeyFile = Annotated[
    Path | None,
    typer.Option(
        envvar="KSYNC_SECRET_KEY_FILE",
        help="File holding the key that seals the store's secrets (default: secret.key in "
        "--data-dir, made on first start; or the key itself in KSYNC_SECRET_KEY); every "
        "server and worker of a store needs the same key",
    ),
]


def secret_key_from_env() -> str | None:
    """The key itself from KSYNC_SECRET_KEY (never an option: a command line is visible
    to every local user)."""
    return os.environ.get(KEY_ENV) or None


DataDir = Annotated[Path, typer.Option(help="Directory of the SQLite store and the default secret key")]
WorkerTimeout = Annotated[float, typer.Option(help="Seconds without heartbeat before a worker's members move")]
CommitInterval = Annotated[
    float, typer.Option(help="Seconds between progress commits (longer: faster, more repeats after a crash)")
]
PauseRetention = Annotated[float, typer.Option(help="Seconds a paused task keeps its progress")]
# One owner of the retention window: the lifecycle rules.
PAUSE_RETENTION_S = DEFAULT_PAUSE_RETENTION.total_seconds()
LogLevel = Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR")]
MaxMembers = Annotated[
    int | None,
    typer.Option(
        help="Members this worker hosts at most, over all tasks (default: no cap); slots "
        "no worker has room for stay unassigned",
    ),
]
MemberProcesses = Annotated[
    int | None,
    typer.Option(
        help="Processes that run this worker's members (default: one per core; 0: members "
        "as threads of this process)",
    ),
]


def server(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8080,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    db_url: DbUrl = None,
    db_url_file: DbUrlFile = None,
    secret_key_file: SecretKeyFile = None,
    worker_id: Annotated[str | None, typer.Option(help="Id of the embedded worker")] = None,
    worker_timeout: WorkerTimeout = 15.0,
    topic_refresh_interval: Annotated[float, typer.Option(help="Seconds between re-evaluations of topic selections")] = 10.0,
    commit_interval: CommitInterval = 1.0,
    pause_retention: PauseRetention = PAUSE_RETENTION_S,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(envvar="KSYNC_API_KEYS_FILE", help='JSON list of {"id", "secret"}: every call then needs a key'),
    ] = None,
    insecure_listen: Annotated[
        bool, typer.Option(help="Allow a non-loopback --host without --api-keys-file")
    ] = False,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            help="A host name clients use to reach this server (repeat for several; '*': any). "
            "localhost and IP addresses are always accepted; other Host headers are refused",
        ),
    ] = None,
    webhook_allow: Annotated[
        list[str] | None,
        typer.Option(
            help="An internal webhook receiver to allow: a CIDR (10.0.0.0/8), an address or a "
            "host name (repeat for several); public addresses are always allowed",
        ),
    ] = None,
    session_lifetime: Annotated[
        float, typer.Option(help="Seconds a console login lasts (logout ends it sooner)")
    ] = 12 * 3600.0,
    metrics_open: Annotated[
        bool, typer.Option(help="Serve /metrics without a key even with --api-keys-file")
    ] = False,
    max_body_bytes: Annotated[
        int, typer.Option(help="Largest request body accepted (checked before it is read)")
    ] = 1 << 20,
    tc3_strict: Annotated[
        bool,
        typer.Option(help="Tencent face: never accept a signature for another action; writes must sign x-tc-action"),
    ] = False,
    secure_cookies: Annotated[bool, typer.Option(help="Always mark the session cookie Secure (behind TLS)")] = False,
    tls_cert: Annotated[
        Path | None,
        typer.Option(help="Serve HTTPS with this PEM certificate (its chain may follow it); needs --tls-key"),
    ] = None,
    tls_key: Annotated[
        Path | None, typer.Option(help="The unencrypted PEM private key of --tls-cert")
    ] = None,
    bootstrap_refuse: Annotated[
        list[str] | None,
        typer.Option(help="A network (CIDR) instance bootstrap addresses must not be in (repeat for several)"),
    ] = None,
    limit_concurrency: Annotated[int, typer.Option(help="Connections served at once (then 503)")] = 200,
    max_tasks: Annotated[
        int, typer.Option(help="Tasks the store may hold; creating one more is refused (409)")
    ] = Settings.model_fields["max_tasks"].default,
    max_test_events_per_minute: Annotated[
        int, typer.Option(help="Test events one alarm rule may send per minute (then 429)")
    ] = Settings.model_fields["max_test_events_per_minute"].default,
    max_alarm_rules: Annotated[
        int, typer.Option(help="Alarm rules the API lets callers define (then 409)")
    ] = Settings.model_fields["max_alarm_rules"].default,
    measure: Annotated[
        bool, typer.Option(hidden=True, help="Per-batch metrics in members (off: benchmark only)")
    ] = True,
    member_processes: MemberProcesses = None,
    max_members: MaxMembers = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run the REST API, the controller and an embedded worker."""
    from ksync.server import configure_logging, run_server

    settings = _settings(
        host=host,
        port=port,
        data_dir=data_dir,
        db_url=_db_url(db_url, db_url_file),
        secret_key_file=secret_key_file,
        secret_key=secret_key_from_env(),
        worker_id=worker_id,
        worker_timeout_s=worker_timeout,
        topic_refresh_interval_s=topic_refresh_interval,
        commit_interval_s=commit_interval,
        pause_retention_s=pause_retention,
        api_keys_file=api_keys_file,
        insecure_listen=insecure_listen,
        allowed_hosts=tuple(allowed_host or ()),
        max_body_bytes=max_body_bytes,
        session_lifetime_s=session_lifetime,
        metrics_open=metrics_open,
        webhook_allow=tuple(webhook_allow or ()),
        tc3_strict=tc3_strict,
        secure_cookies=secure_cookies,
        tls_cert=tls_cert,
        tls_key=tls_key,
        bootstrap_refuse=tuple(bootstrap_refuse or ()),
        limit_concurrency=limit_concurrency,
        max_tasks=max_tasks,
        max_test_events_per_minute=max_test_events_per_minute,
        max_alarm_rules=max_alarm_rules,
        measure=measure,
        member_processes=member_processes,
        max_members=max_members,
    )
    configure_logging(log_level)
    with _refusal_exits_2():
        run_server(settings)


@contextlib.contextmanager
def _refusal_exits_2() -> Iterator[None]:
    """A ValueError from starting a process (a wrong secret key, a bad store) is the
    user's to fix: its sentence on stderr and exit status 2, no traceback."""
    try:
        yield
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def worker(
    db_url: DbUrl = None,
    db_url_file: DbUrlFile = None,
    secret_key_file: SecretKeyFile = None,
    id: Annotated[str | None, typer.Option("--id", help="Worker id (default: host-pid)")] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    metrics_host: Annotated[str, typer.Option(help="Address of the Prometheus endpoint")] = "127.0.0.1",
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (/metrics)")
    ] = None,
    commit_interval: CommitInterval = 1.0,
    pause_retention: PauseRetention = PAUSE_RETENTION_S,
    member_processes: MemberProcesses = None,
    max_members: MaxMembers = None,
    log_level: LogLevel = "INFO",
) -> None:
    """Run members only; share the store of one or more servers."""
    from ksync.server import configure_logging, run_worker

    settings = _settings(
        db_url=_db_url(db_url, db_url_file),
        secret_key_file=secret_key_file,
        secret_key=secret_key_from_env(),
        data_dir=data_dir,
        worker_id=id,
        host=metrics_host,
        metrics_port=metrics_port,
        commit_interval_s=commit_interval,
        pause_retention_s=pause_retention,
        member_processes=member_processes,
        max_members=max_members,
    )
    configure_logging(log_level)
    with _refusal_exits_2():
        run_worker(settings)


def rotate_secret_key(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    db_url: DbUrl = None,
    db_url_file: DbUrlFile = None,
    secret_key_file: SecretKeyFile = None,
    new_secret_key_file: Annotated[
        Path | None,
        typer.Option(
            help="Where the new key is (made there, mode 0600, if absent); default: a new "
            "key replaces the current key's file",
        ),
    ] = None,
) -> None:
    """Re-seal every secret of the store with a new key, in one transaction. Stop every
    server and worker of the store first; start them again with the new key."""
    from ksync.server import rotate_secret_key as rotate

    settings = _settings(
        data_dir=data_dir,
        db_url=_db_url(db_url, db_url_file),
        secret_key_file=secret_key_file,
        secret_key=secret_key_from_env(),
    )
    with _refusal_exits_2():
        typer.echo(rotate(settings, new_secret_key_file))


def demo(
    port: Annotated[int, typer.Option(help="Port of the demo's API and console")] = 8080,
    rate: Annotated[int, typer.Option(help="Records per second the demo producer writes")] = 200,
) -> None:
    """Two local Kafka instances, a ksync server and a task copying two topics."""
    from ksync.demo import run_demo

    raise typer.Exit(run_demo(port=port, rate=rate))
