"""Process entry points: `ksync server` (API + controller + embedded worker) and
`ksync worker` (members only). Both shut down cleanly on SIGTERM/SIGINT: members commit
their progress, then the process exits."""

from __future__ import annotations

import logging
import os
import signal
import socket
import ssl
import threading
import uuid
from pathlib import Path

import uvicorn
from prometheus_client import start_http_server

from ksync.api.app import create_app
from ksync.api.auth import KeyRing
from ksync.control.controller import Controller, ControllerSettings
from ksync.monitoring.alarms.job import AlarmEvaluator
from ksync.monitoring.alarms.webhook_policy import WebhookPolicy
from ksync.monitoring.prometheus import registry_for
from ksync.settings import Settings
from ksync.store.base import as_utc, utcnow
from ksync.store.db import make_engine, migrate
from ksync.store.repo import Store
from ksync.store.sealed import Sealer
from ksync.store.secret_key import (
    KEY_FILE_NAME,
    load_sealer,
    new_key,
    read_key_file,
    write_key_file,
)
from ksync.worker.hosting import MemberHost, ThreadHost, tune_gc
from ksync.worker.pool import ProcessPool, default_size
from ksync.worker.runtime import Worker, WorkerSettings

log = logging.getLogger("ksync")


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Uvicorn's per-request access log drowns the state changes operators look for.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


def open_store(settings: Settings) -> Store:
    """The store, migrated, with this process's secret key checked against it (a wrong
    key raises `WrongSecretKey`, a ValueError naming the key's source, before anything
    starts) and any secret left in clear by an earlier ksync sealed."""
    sealer = sealer_of(settings)
    engine = make_engine(settings.database_url)
    migrate(engine)
    store = Store(engine, sealer)
    store.secrets.adopt(sealer)
    log.info("store secrets sealed with secret key %s from %s", sealer.key_id, sealer.source)
    return store


def sealer_of(settings: Settings) -> Sealer:
    """The sealer of the secret key the settings name (`ksync.store.secret_key`)."""
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else None
    return load_sealer(settings.secret_key_file, key, settings.data_dir)


def member_host(settings: Settings) -> MemberHost:
    """Where this process's worker runs its members: member processes (`--member-processes`,
    default one per core), or threads of this process with `--member-processes 0`."""
    if settings.member_processes == 0:
        return ThreadHost()
    size = settings.member_processes or default_size()
    log.info("members run in up to %d member processes", size)
    return ProcessPool(size)


def _worker(store: Store, settings: Settings, default_id: str) -> Worker:
    return Worker(
        store,
        WorkerSettings(
            worker_id=settings.worker_id or default_id,
            heartbeat_interval_s=settings.heartbeat_interval_s,
            measure=settings.measure,
            commit_interval_s=settings.commit_interval_s,
            max_members=settings.max_members,
        ),
        member_host(settings),
    )


def _thread(target: object, name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)  # type: ignore[arg-type]
    thread.start()
    return thread


def load_keys(settings: Settings) -> KeyRing | None:
    """The API keys, or None; refuses an open API on a non-loopback address."""
    if settings.api_keys_file is not None:
        keys = KeyRing.load(settings.api_keys_file)
        log.info("API keys loaded from %s: every call needs a key", settings.api_keys_file)
        return keys
    if not settings.loopback_only and not settings.insecure_listen:
        raise ValueError(
            f"--host {settings.host}: without --api-keys-file the API is open to anyone, so "
            "ksync listens on loopback only; give --api-keys-file, or --insecure-listen to "
            "accept that"
        )
    log.warning(
        "no --api-keys-file: the API is open to anyone who can reach %s:%d",
        settings.host,
        settings.port,
    )
    return None


def _tls_file(option: str, path: Path, marker: str, what: str) -> None:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        raise ValueError(f"{option} {path}: cannot read it ({exc.strerror})") from None
    if marker not in text:
        raise ValueError(f"{option} {path}: not a PEM {what} (no '{marker}' line)")


def _encrypted_key() -> str:
    # Called by OpenSSL instead of prompting on the terminal for a pass phrase.
    raise ValueError("the key is encrypted: give an unencrypted PEM key (readable by ksync only)")


def check_tls(settings: Settings) -> None:
    """Refuse a TLS setting the listener could not use, with a sentence naming the option:
    one of --tls-cert and --tls-key without the other, a file that cannot be read or is not
    PEM, an encrypted key, or a key that does not belong to the certificate. Checked before
    anything starts, so a bad pair never leaves a half-started server."""
    cert, key = settings.tls_cert, settings.tls_key
    if cert is None and key is None:
        return
    if cert is None or key is None:
        given, missing = ("--tls-cert", "--tls-key") if key is None else ("--tls-key", "--tls-cert")
        raise ValueError(f"{given} needs {missing} too: HTTPS needs the certificate and its private key")
    _tls_file("--tls-cert", cert, "-----BEGIN CERTIFICATE-----", "certificate")
    _tls_file("--tls-key", key, "PRIVATE KEY-----", "private key")
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert, key, password=_encrypted_key)
    except ValueError as exc:
        raise ValueError(f"--tls-key {key}: {exc}") from None
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc):
            raise ValueError(
                f"--tls-key {key} is not the private key of the certificate in --tls-cert {cert}"
            ) from None
        raise ValueError(
            f"--tls-cert {cert} / --tls-key {key}: not a usable certificate and key ({exc.reason or exc})"
        ) from None


def run_server(settings: Settings) -> None:
    """Serve the API and run the controller and an embedded worker until a signal."""
    check_tls(settings)
    keys = load_keys(settings)
    if not settings.loopback_only and not settings.allowed_hosts:
        log.warning(
            "listening on %s: requests that name this server by a host name are refused "
            "unless --allowed-host lists it (localhost and IP addresses are accepted)",
            settings.host,
        )
    store = open_store(settings)
    host = socket.gethostname()
    controller = Controller(
        store,
        ControllerSettings(
            holder_id=f"{host}:{os.getpid()}:{uuid.uuid4().hex[:6]}",
            worker_timeout_s=settings.worker_timeout_s,
            topic_refresh_interval_s=settings.topic_refresh_interval_s,
        ),
    )
    # A stable id: a restarted server takes its members back at once instead of waiting
    # for the old id to time out.
    worker = _worker(store, settings, f"server@{host}:{settings.port}")
    controller.on_slots_changed = worker.wake
    alarms = AlarmEvaluator(store, policy=WebhookPolicy(settings.webhook_allow))
    controller.periodic.append((alarms.name, alarms.run_due))
    threads = [_thread(controller.run, "controller"), _thread(worker.run, "worker")]

    def shutdown() -> None:
        # Runs inside uvicorn's shutdown, before it re-raises the signal that stopped it.
        log.info("shutting down: members commit their progress")
        worker.stop()
        controller.stop()
        for t in threads:
            t.join(timeout=90)
        alarms.close()
        log.info("stopped")

    app = create_app(store, settings, keys=keys, on_shutdown=shutdown, on_change=controller.wake)
    app.state.metrics_registry = registry_for(worker, store, settings.worker_timeout_s)
    tune_gc()
    log.info(
        "ksync server on %s://%s:%d (store: %s)",
        settings.scheme,
        settings.host,
        settings.port,
        "PostgreSQL" if settings.db_url and settings.db_url.startswith("postgres") else "SQLite",
    )
    raise_open_files_limit()
    uvicorn.Server(
        uvicorn.Config(
            app,
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=False,
            # Idle and trickling sockets must not pile up: a cap on connections (then 503),
            # idle keep-alives closed, request heads capped. uvicorn has no header-read
            # timeout: exposed servers belong behind a reverse proxy that has one (README).
            limit_concurrency=settings.limit_concurrency,
            timeout_keep_alive=int(max(1, settings.timeout_keep_alive_s)),
            h11_max_incomplete_event_size=settings.max_header_bytes,
            ssl_certfile=settings.tls_cert,
            ssl_keyfile=settings.tls_key,
        )
    ).run()


def raise_open_files_limit() -> None:
    """Raise the soft RLIMIT_NOFILE to the hard limit: with the usual 1,024, open HTTP
    sockets could starve librdkafka and SQLite of descriptors."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open files limit from %d: %s", soft, exc)


def run_worker(settings: Settings) -> None:
    """Run members only, until SIGTERM/SIGINT."""
    store = open_store(settings)
    worker = _worker(store, settings, f"{socket.gethostname()}-{os.getpid()}")
    stop = threading.Event()

    def _signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping worker %s", signum, worker.worker_id)
        stop.set()
        worker.stop()

    signal.signal(signal.SIGTERM, _signal)
    signal.signal(signal.SIGINT, _signal)
    if settings.metrics_port is not None:
        start_http_server(settings.metrics_port, addr=settings.host, registry=registry_for(worker))
        log.info("Prometheus metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    tune_gc()
    thread = _thread(worker.run, "worker")
    while thread.is_alive():
        thread.join(timeout=0.5)


def rotate_secret_key(settings: Settings, new_key_file: Path | None) -> str:
    """Re-seal every secret of the store with a new key, in one transaction, and say what
    was done. The store's current key comes from the settings, as for a server.

    With `new_key_file`, the new key is read from it (generated there, mode 0600, if it
    does not exist) and the current key's file is left alone. Without it, a new key
    replaces the current key's file, written beside it before the transaction and moved
    over it after the commit. Servers and workers must be stopped: they hold the old key.
    """
    old = sealer_of(settings)
    if new_key_file is None and settings.secret_key is not None:
        raise ValueError(
            "--new-secret-key-file: the current key comes from KSYNC_SECRET_KEY, so there is "
            "no key file to replace: name the file to write the new key to"
        )
    staged: Path | None = None
    current = settings.secret_key_file or settings.data_dir / KEY_FILE_NAME
    if new_key_file is not None:
        if not new_key_file.exists():
            write_key_file(new_key_file, new_key())
        new = read_key_file(new_key_file, "--new-secret-key-file")
        if new.key_id == old.key_id:
            raise ValueError(f"--new-secret-key-file {new_key_file} holds the current key {old.key_id}")
    else:
        staged = current.with_name(f".{current.name}.new")
        staged.unlink(missing_ok=True)
        key = new_key()
        write_key_file(staged, key)
        new = Sealer(key, f"the new key file {current}")
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        store = Store(engine, old)
        live = [
            w.id
            for w in store.workers.all()
            if (utcnow() - as_utc(w.heartbeat_at)).total_seconds() < settings.worker_timeout_s
        ]
        if live:
            raise ValueError(
                f"worker(s) {', '.join(sorted(live))} are running on this store with the old key: "
                "stop every ksync server and worker first"
            )
        count = store.secrets.rotate(old, new)
    except BaseException:
        if staged is not None:
            staged.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    if staged is not None:
        os.replace(staged, current)
        where = f"in {current}, in place of key {old.key_id}"
    else:
        where = f"in {new_key_file}: start servers and workers with --secret-key-file {new_key_file}"
    return f"{count} secret(s) re-sealed with secret key {new.key_id} {where}"
