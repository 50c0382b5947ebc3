"""Process settings, validated once at the edge (the CLI) and trusted inside."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ksync.api.address_policy import BootstrapPolicy, check_network
from ksync.api.hosts import check_name, is_ip
from ksync.control.lifecycle import DEFAULT_PAUSE_RETENTION
from ksync.monitoring.alarms.webhook_policy import check_entry
from ksync.store.db import sqlite_url

# Where a server or worker keeps its SQLite store and logs unless told otherwise.
DEFAULT_DATA_DIR = Path("./ksync-data")


class Settings(BaseModel):
    """Options shared by `ksync server` and `ksync worker`."""

    model_config = ConfigDict(frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    data_dir: Path = DEFAULT_DATA_DIR
    db_url: str | None = None
    # The key that seals the store's secrets (ksync.store.secret_key): a file, or the key
    # itself from KSYNC_SECRET_KEY; neither: secret.key in data_dir, made on first start.
    secret_key_file: Path | None = None
    secret_key: SecretStr | None = None
    worker_id: str | None = None
    worker_timeout_s: float = Field(default=15.0, gt=0)
    heartbeat_interval_s: float = Field(default=1.0, gt=0)
    topic_refresh_interval_s: float = Field(default=10.0, gt=0)
    # How often members flush and commit progress: longer means fewer pipeline drains
    # (throughput) and more records repeated after a crash.
    commit_interval_s: float = Field(default=1.0, gt=0, le=300)
    pause_retention_s: float = Field(default=DEFAULT_PAUSE_RETENTION.total_seconds(), ge=0)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Member processes of the worker: None = one per core, 0 = members as threads of the
    # worker's own process (ksync.worker.pool).
    member_processes: int | None = Field(default=None, ge=0, le=256)
    # Members this worker hosts at most, over all tasks (the controller gives it no more
    # slots); None = no cap.
    max_members: int | None = Field(default=None, ge=1, le=100_000)
    measure: bool = True
    api_keys_file: Path | None = None
    insecure_listen: bool = False
    # Host names clients use to reach the server, besides localhost and IP addresses
    # (ksync.api.hosts); "*" accepts any.
    allowed_hosts: tuple[str, ...] = ()
    # Internal webhook receivers an operator allows (CIDRs or host names); public
    # addresses are always allowed (ksync.monitoring.alarms.webhook_policy).
    webhook_allow: tuple[str, ...] = ()
    # How long a console login lasts (logout ends it sooner).
    session_lifetime_s: float = Field(default=12 * 3600.0, ge=60, le=30 * 86_400)
    # /metrics without a key even when API keys are required.
    metrics_open: bool = False
    # Largest request body accepted, checked before it is read (and before authentication).
    max_body_bytes: int = Field(default=1 << 20, ge=1024, le=1 << 30)
    # Tencent face: never accept a signature again for another action, and require writes
    # to sign x-tc-action (ksync.api.compat.tencent.signature). The official SDK signs
    # only content-type and host, so its writes are refused in this mode.
    tc3_strict: bool = False
    # Always mark the console's session cookie Secure (behind a TLS proxy).
    secure_cookies: bool = False
    # Serve HTTPS with this PEM certificate (chain) and private key: both or neither,
    # checked as a pair at start (ksync.server.check_tls).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Networks instance bootstrap addresses must not be in (CIDRs), for operators who do not
    # want the API to reach internal ports; none by default, since a replicator next to its
    # brokers connects to loopback and private addresses legitimately.
    bootstrap_refuse: tuple[str, ...] = ()
    # Connections the HTTP server serves at once (then 503), and how long an idle
    # keep-alive connection stays open.
    limit_concurrency: int = Field(default=200, ge=1, le=100_000)
    timeout_keep_alive_s: float = Field(default=5.0, gt=0, le=300)
    # Largest request head (request line and headers) a client may send.
    max_header_bytes: int = Field(default=64 * 1024, ge=4096, le=1 << 20)
    # Caps on what API callers can create: a 409 says which, and the setting to raise it.
    max_tasks: int = Field(default=1000, ge=1, le=1_000_000)
    max_alarm_rules: int = Field(default=1000, ge=1, le=1_000_000)
    # Test events an alarm rule may send per minute (POST /api/v1/alarms/{id}/test).
    max_test_events_per_minute: int = Field(default=10, ge=1, le=10_000)

    @field_validator("allowed_hosts")
    @classmethod
    def _host_names(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_name(n) for n in names)

    @field_validator("bootstrap_refuse")
    @classmethod
    def _bootstrap_refuse(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(check_network(e)) for e in entries)

    @field_validator("webhook_allow")
    @classmethod
    def _webhook_allow(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(check_entry(e) for e in entries)

    @property
    def host_names(self) -> tuple[str, ...]:
        """The names this server answers to: the configured ones and a named --host."""
        bound = self.host.strip().lower()
        if bound and not is_ip(bound) and bound not in ("0.0.0.0", "::"):
            return (*self.allowed_hosts, check_name(bound))
        return self.allowed_hosts

    @property
    def bootstrap_policy(self) -> BootstrapPolicy:
        """The operator's rule on instance bootstrap addresses (refuses nothing by default)."""
        return BootstrapPolicy(self.bootstrap_refuse)

    @property
    def pause_retention(self) -> timedelta:
        """How long a paused task keeps its progress (see control.lifecycle)."""
        return timedelta(seconds=self.pause_retention_s)

    @property
    def database_url(self) -> str:
        return self.db_url or sqlite_url(self.data_dir)

    @property
    def scheme(self) -> str:
        """How clients reach the API: https with --tls-cert, else http."""
        return "https" if self.tls_cert is not None else "http"

    @property
    def loopback_only(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")
