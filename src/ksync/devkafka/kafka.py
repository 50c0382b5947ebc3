"""Apache Kafka clusters for the tests and the benchmark: KRaft, combined broker+controller
nodes on free loopback ports, started from the jars `scripts/fetch-kafka` puts in a cache.

Every node listens four times:

* PLAINTEXT — principal `User:ANONYMOUS`, a super user: what tests and fixtures use;
* SASL_PLAINTEXT — SCRAM-SHA-512 and PLAIN, users `admin` (super user) and `alice` (no
  rights but those granted by ACLs, so authorization is real);
* SSL — a broker certificate signed by a CA made for this cluster (`ca_pem`);
* CONTROLLER — the KRaft quorum.

Log dirs live under the cluster's folder and survive a node's restart, so a test can kill
a broker with SIGKILL and start it again with its data. Every JVM is a child that dies
with its parent (`processes.spawn`) and `stop()` leaves none behind.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ksync.devkafka.processes import free_port, spawn, stop_process, wait_for_port
from ksync.devkafka.tls import BrokerTls, broker_keystore, new_authority

log = logging.getLogger(__name__)

KAFKA_VERSION = "4.4.0"
LIBS_ENV = "KSYNC_KAFKA_LIBS"

SUPER_USER = ("admin", "admin-secret")
PLAIN_USER = ("alice", "alice-secret")  # no rights until an ACL grants them


class KafkaUnavailable(RuntimeError):
    """Kafka cannot run here: no jars, no Java. The message says what to install."""


def kafka_libs() -> Path:
    """The folder holding Kafka's jars (`$KSYNC_KAFKA_LIBS`), checked to be usable."""
    value = os.environ.get(LIBS_ENV)
    if not value:
        raise KafkaUnavailable(
            f"{LIBS_ENV} is not set: run `make kafka` (needs java and mvn), which fetches "
            f"Apache Kafka {KAFKA_VERSION} from Maven Central, and point {LIBS_ENV} at its libs folder"
        )
    libs = Path(value)
    if not (libs / f"kafka_2.13-{KAFKA_VERSION}.jar").is_file():
        raise KafkaUnavailable(
            f"{libs} holds no kafka_2.13-{KAFKA_VERSION}.jar: run `make kafka` to fetch it"
        )
    return libs


def java_binary() -> str:
    """`$JAVA_HOME/bin/java`, else `java` on the PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").is_file():
        return str(Path(home, "bin", "java"))
    found = shutil.which("java")
    if found is None:
        raise KafkaUnavailable(
            "no java on the PATH and no JAVA_HOME: Kafka needs a Java 17+ runtime "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    return found


@dataclass(frozen=True)
class NodePorts:
    plaintext: int = field(default_factory=free_port)
    sasl: int = field(default_factory=free_port)
    ssl: int = field(default_factory=free_port)
    controller: int = field(default_factory=free_port)


@dataclass
class KafkaNode:
    """One combined broker+controller JVM of a cluster."""

    node_id: int
    folder: Path
    ports: NodePorts = field(default_factory=NodePorts)
    process: subprocess.Popen[bytes] | None = None
    pending_archive: Path | None = None  # class archive this JVM writes at exit

    @property
    def config_path(self) -> Path:
        return self.folder / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 40) -> str:
        """The end of the node's log, for an error message."""
        text = ""
        for path in (self.folder / "stdout.log", self.log_path):
            if path.is_file():
                text += path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _class_archive(java: str, libs: Path) -> Path:
    """Where this JVM and classpath keep their class-data archive (AppCDS).

    A JVM that starts from the archive maps Kafka's classes instead of loading and
    verifying them: a node serves in about half the time (measured 4.1 s -> 1.9 s). The
    key changes with the JDK or the jars, so a stale archive is never offered.
    """
    java_path = Path(java).resolve()
    key = hashlib.sha1(
        f"{java_path}:{java_path.stat().st_mtime_ns}:{sorted(p.name for p in libs.iterdir())}".encode()
    ).hexdigest()[:12]
    return libs.parent / f"kafka-classes-{key}.jsa"


def _cluster_uuid() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


class KafkaCluster:
    """N KRaft nodes: `start()`, use `bootstrap` (or `sasl_bootstrap`, `ssl_bootstrap`),
    `kill_node`/`start_node` to make outages, then `stop()`."""

    def __init__(
        self,
        name: str,
        nodes: int = 1,
        *,
        folder: Path | None = None,
        heap_mb: int = 512,
        overrides: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.cluster_id = _cluster_uuid()
        self.heap_mb = heap_mb
        self.overrides = dict(overrides or {})
        self._owns_folder = folder is None
        self.folder = folder or Path(tempfile.mkdtemp(prefix=f"kafka-{name}-"))
        self.nodes = [KafkaNode(i + 1, self.folder / f"node-{i + 1}") for i in range(nodes)]
        self._tls: BrokerTls | None = None

    # ---- addresses ---------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """PLAINTEXT listeners of every node (principal ANONYMOUS, a super user)."""
        return ",".join(f"127.0.0.1:{n.ports.plaintext}" for n in self.nodes)

    @property
    def sasl_bootstrap(self) -> str:
        """SASL_PLAINTEXT listeners (SCRAM-SHA-512 and PLAIN)."""
        return ",".join(f"127.0.0.1:{n.ports.sasl}" for n in self.nodes)

    @property
    def ssl_bootstrap(self) -> str:
        """SSL listeners; clients trust `ca_pem`."""
        return ",".join(f"127.0.0.1:{n.ports.ssl}" for n in self.nodes)

    @property
    def ca_pem(self) -> str:
        assert self._tls is not None, "start() the cluster first"
        return self._tls.ca_pem

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self, timeout_s: float = 90.0) -> KafkaCluster:
        """Write configs, format new log dirs, start every node, wait until all serve."""
        self.launch()
        return self.wait_started(timeout_s)

    def launch(self) -> None:
        """Format and start every node without waiting for them to serve.

        Call from the main thread (see `processes.spawn`); `kafka_clusters` launches
        several clusters this way and then waits for all of them at once.
        """
        libs, java = kafka_libs(), java_binary()
        if self._tls is None:
            self._tls = broker_keystore(new_authority(f"{self.name} CA"), self.folder / "tls")
        for node in self.nodes:
            node.folder.mkdir(parents=True, exist_ok=True)
            node.config_path.write_text(self._properties(node))
            (node.folder / "log4j2.properties").write_text(_log4j_config(node.log_path))
        with ThreadPoolExecutor(len(self.nodes)) as pool:
            list(pool.map(lambda n: self._format(n, java, libs), self.nodes))
        try:
            for node in self.nodes:
                self._launch(node, java, libs)
        except BaseException:
            self.stop()
            raise

    def wait_started(self, timeout_s: float = 90.0) -> KafkaCluster:
        """Wait until every launched node serves; stop the cluster if one cannot."""
        try:
            for node in self.nodes:
                self._wait_listening(node, timeout_s)
            self.wait_ready(timeout_s)
        except BaseException:
            self.stop()
            raise
        log.info("kafka cluster %s (%s) serving on %s", self.name, self.cluster_id, self.bootstrap)
        return self

    def stop(self) -> None:
        """Stop every node and remove the folder we made (a folder given to us is kept).

        The cluster is being thrown away, so its nodes are killed: a clean shutdown of
        several nodes at once waits on leadership moves for seconds each. Only a node
        that writes the class archive at exit is stopped cleanly (SIGTERM), once.
        """
        running = [n for n in self.nodes if n.process is not None]
        for node in running:
            if node.pending_archive is None:
                self.kill_node(node.node_id)
        with ThreadPoolExecutor(max(1, len(running))) as pool:
            list(pool.map(self.stop_node, [n.node_id for n in running]))
        if self._owns_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id - 1]

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node: a crash, its log dir kept for `start_node`."""
        node = self.node(node_id)
        proc, node.process = node.process, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def stop_node(self, node_id: int) -> None:
        """A clean shutdown of one node."""
        node = self.node(node_id)
        proc, node.process = node.process, None
        if proc is not None:
            stop_process(proc, signal.SIGTERM, timeout_s=20)
        pending, node.pending_archive = node.pending_archive, None
        if pending is not None and pending.is_file():
            final = pending.with_name(pending.name.rsplit(".", 1)[0])
            if final.is_file():
                pending.unlink()
            else:
                pending.replace(final)

    def start_node(self, node_id: int, timeout_s: float = 60.0) -> None:
        """Start a stopped or killed node again on the same ports and log dir.

        From the main thread the node dies with this process; from another thread, stop
        it yourself (see `processes.spawn`)."""
        node = self.node(node_id)
        if node.running:
            return
        self._launch(node, java_binary(), kafka_libs())
        self._wait_listening(node, timeout_s)

    def pause(self) -> None:
        """Freeze every node (SIGSTOP): an outage that keeps data and sessions open."""
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                os.kill(node.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        for node in self.nodes:
            if node.running:
                assert node.process is not None
                os.kill(node.process.pid, signal.SIGCONT)

    def wait_ready(self, timeout_s: float = 60.0, brokers: int | None = None) -> None:
        """Until the cluster reports `brokers` live brokers (default: every running node)."""
        from confluent_kafka.admin import AdminClient

        want = brokers if brokers is not None else sum(n.running for n in self.nodes)
        bootstrap = ",".join(f"127.0.0.1:{n.ports.plaintext}" for n in self.nodes if n.running)
        admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})
        deadline = time.monotonic() + timeout_s
        seen = -1
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(
                        f"kafka node {node.node_id} of {self.name} exited with "
                        f"{node.process.returncode}:\n{node.tail()}"
                    )
            try:
                seen = len(admin.describe_cluster(request_timeout=2).result(timeout=3).nodes)
            except Exception:  # noqa: BLE001 - not up yet; the deadline decides
                seen = -1
            if seen >= want:
                return
            time.sleep(0.1)
        raise TimeoutError(f"kafka cluster {self.name}: {seen} of {want} brokers after {timeout_s}s")

    # ---- internals -----------------------------------------------------------------------

    def _properties(self, node: KafkaNode) -> str:
        n = len(self.nodes)
        p = node.ports
        assert self._tls is not None
        voters = ",".join(f"{x.node_id}@127.0.0.1:{x.ports.controller}" for x in self.nodes)
        users = {SUPER_USER[0]: SUPER_USER[1], PLAIN_USER[0]: PLAIN_USER[1]}
        plain_users = " ".join(f'user_{u}="{pw}"' for u, pw in users.items())
        props = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": (
                f"PLAINTEXT://127.0.0.1:{p.plaintext},SASL_PLAINTEXT://127.0.0.1:{p.sasl},"
                f"SSL://127.0.0.1:{p.ssl},CONTROLLER://127.0.0.1:{p.controller}"
            ),
            "advertised.listeners": (
                f"PLAINTEXT://127.0.0.1:{p.plaintext},SASL_PLAINTEXT://127.0.0.1:{p.sasl},"
                f"SSL://127.0.0.1:{p.ssl}"
            ),
            "listener.security.protocol.map": (
                "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT"
            ),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(node.folder / "data"),
            # Internal topics sized for the node count; few partitions start fast.
            "offsets.topic.replication.factor": str(min(3, n)),
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": str(min(3, n)),
            "transaction.state.log.min.isr": str(min(2, n)),
            "transaction.state.log.num.partitions": "8",
            "share.coordinator.state.topic.replication.factor": str(min(3, n)),
            "share.coordinator.state.topic.min.isr": str(min(2, n)),
            "default.replication.factor": "1",
            "num.partitions": "1",
            # ksync creates its target topics; a producer that auto-created one would
            # hide a bug (and production clusters often refuse it).
            "auto.create.topics.enable": "false",
            # Tests join groups often and some need short sessions.
            "group.initial.rebalance.delay.ms": "0",
            "group.min.session.timeout.ms": "1000",
            # A killed broker is fenced (and its partitions' leadership moves) in seconds,
            # and a restarted one registers again as soon.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "1000",
            # Two cores run the whole suite: fewer threads per JVM.
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "background.threads": "4",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN",
            "listener.name.sasl_plaintext.plain.sasl.jaas.config": (
                f"org.apache.kafka.common.security.plain.PlainLoginModule required {plain_users};"
            ),
            "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            ),
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self._tls.keystore_path),
            "ssl.client.auth": "none",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": f"User:ANONYMOUS;User:{SUPER_USER[0]}",
            "allow.everyone.if.no.acl.found": "false",
            **self.overrides,
        }
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _format(self, node: KafkaNode, java: str, libs: Path) -> None:
        if (node.folder / "data" / "meta.properties").is_file():
            return  # formatted before: a restart keeps its data
        scram = [
            arg
            for user, password in (SUPER_USER, PLAIN_USER)
            for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")
        ]
        archive = _class_archive(java, libs)
        sharing = [f"-XX:SharedArchiveFile={archive}"] if archive.is_file() else []
        done = subprocess.run(
            [java, "-Xmx256m", "-XX:TieredStopAtLevel=1", *sharing, "-cp", f"{libs}/*",
             f"-Dlog4j2.configurationFile={node.folder / 'log4j2.properties'}",
             "kafka.tools.StorageTool", "format",
             # One argument: a random id may start with "-", which argparse takes for an option.
             f"--cluster-id={self.cluster_id}",
             "-c", str(node.config_path), *scram],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"formatting kafka node {node.node_id} of {self.name} failed:\n"
                f"{done.stdout}{done.stderr}"
            )

    def _launch(self, node: KafkaNode, java: str, libs: Path) -> None:
        out = open(node.folder / "stdout.log", "ab")  # noqa: SIM115 - the child keeps it
        archive = _class_archive(java, libs)
        if archive.is_file():
            sharing = [f"-XX:SharedArchiveFile={archive}"]
        else:
            # The first node to run writes one at its exit (under a name of its own, moved
            # into place by stop_node: nodes stopping together must not share a file).
            node.pending_archive = archive.with_name(f"{archive.name}.{os.getpid()}-{id(node)}")
            sharing = [f"-XX:ArchiveClassesAtExit={node.pending_archive}"]
        try:
            node.process = spawn(
                [java, f"-Xmx{self.heap_mb}m", f"-Xms{min(self.heap_mb, 128)}m", *sharing,
                 "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
                 f"-Dlog4j2.configurationFile={node.folder / 'log4j2.properties'}",
                 "-cp", f"{libs}/*", "kafka.Kafka", str(node.config_path)],
                stdout=out,
                cwd=str(node.folder),
            )
        finally:
            out.close()

    def _wait_listening(self, node: KafkaNode, timeout_s: float) -> None:
        try:
            wait_for_port(node.ports.plaintext, timeout_s=timeout_s, proc=node.process)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"kafka node {node.node_id} of {self.name}: {exc}\n{node.tail()}") from None


def _log4j_config(path: Path) -> str:
    """Broker log to a file at INFO; kafka's chatty request logger kept quiet."""
    return (
        "rootLogger.level=INFO\n"
        "rootLogger.appenderRef.f.ref=F\n"
        "appender.f.type=File\n"
        "appender.f.name=F\n"
        f"appender.f.fileName={path}\n"
        "appender.f.layout.type=PatternLayout\n"
        "appender.f.layout.pattern=[%d] %p %m (%c)%n\n"
        "logger.request.name=kafka.request.logger\n"
        "logger.request.level=WARN\n"
    )


@contextlib.contextmanager
def kafka_clusters(*names: str, nodes: int = 1, heap_mb: int = 512) -> Iterator[list[KafkaCluster]]:
    """Start one cluster per name, all at once; stop them all on exit, whatever happens."""
    clusters = [KafkaCluster(name, nodes, heap_mb=heap_mb) for name in names]
    try:
        for c in clusters:
            c.launch()  # every JVM starts from this thread, then they boot side by side
        for c in clusters:
            c.wait_started()
        yield clusters
    finally:
        for c in clusters:
            c.stop()
