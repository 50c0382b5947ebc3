"""A far target: every client connection to the target broker through a delaying TCP proxy.

`tc netem` on the loopback device would be the natural tool, but the development
machine's kernel lacks the qdiscs it needs (prio, netem), so the delay comes from
delay_proxy.py instead: 10 ms each way (20 ms added round trip), in a process of its own.

Kafka clients learn broker addresses from metadata, so forwarding the bootstrap port
alone would be bypassed after the first request. The target broker therefore gets one
extra PLAINTEXT listener per proxy (`FAR`, `NEAR`), each *advertised* at its proxy's
port: a client that bootstraps through a proxy is told the proxy's address for the
broker and every connection it makes goes through it. The bench's own observer and
topic cleanup keep using the plain listener, undelayed.

`NEAR` forwards with no delay: produce-only through it against produce-only direct shows
what the proxy itself costs (it must not be the bottleneck of the case).
"""

from __future__ import annotations

import contextlib
import dataclasses
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean as mean

from harness import BROKER_HEAP_MB, BenchError, CpuMeter, Result, info, text_pool
from ksync_runner import KsyncServer, run_ksync_task
from load import load
from mirrormaker import PRODUCER_SETTINGS, run_mirrormaker
from reference_clients import produce_only

from ksync.devkafka import KafkaCluster, free_port, spawn, stop_process, wait_for_port

DELAY_MS = 10
PROXY_SCRIPT = Path(__file__).resolve().parent / "delay_proxy.py"


@dataclass(frozen=True)
class Route:
    """A listener of the target broker on `broker_port`, advertised at `proxy_port`."""

    listener: str
    delay_ms: int
    broker_port: int = field(default_factory=free_port)
    proxy_port: int = field(default_factory=free_port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.proxy_port}"


FAR = "FAR"
NEAR = "NEAR"


def far_routes() -> dict[str, Route]:
    return {FAR: Route(FAR, DELAY_MS), NEAR: Route(NEAR, 0)}


def add_routes(cluster: KafkaCluster, routes: dict[str, Route]) -> None:
    """Give the (not yet launched) one-node `cluster` a PLAINTEXT listener per route,
    advertised at the route's proxy, beside the listeners it always has."""
    if len(cluster.nodes) != 1:
        raise BenchError("far routes are for a one-node target cluster")
    p = cluster.nodes[0].ports
    own = {"PLAINTEXT": p.plaintext, "SASL_PLAINTEXT": p.sasl, "SSL": p.ssl}
    listen = [f"{name}://127.0.0.1:{port}" for name, port in own.items()]
    advertised = list(listen)
    listen.append(f"CONTROLLER://127.0.0.1:{p.controller}")
    protocols = [f"{name}:{name}" for name in own] + ["CONTROLLER:PLAINTEXT"]
    for r in routes.values():
        listen.append(f"{r.listener}://127.0.0.1:{r.broker_port}")
        advertised.append(f"{r.listener}://127.0.0.1:{r.proxy_port}")
        protocols.append(f"{r.listener}:PLAINTEXT")  # principal ANONYMOUS, a super user
    cluster.overrides.update({
        "listeners": ",".join(listen),
        "advertised.listeners": ",".join(advertised),
        "listener.security.protocol.map": ",".join(protocols),
    })


@contextlib.contextmanager
def bench_clusters(routes: dict[str, Route] | None) -> Iterator[tuple[KafkaCluster, KafkaCluster]]:
    """The source and target clusters, booted side by side; the target with `routes`."""
    # Kafka's default group.initial.rebalance.delay.ms (the test fixtures set 0): the
    # time to a task's first record is measured as a user's brokers would make it.
    defaults = {"group.initial.rebalance.delay.ms": "3000"}
    clusters = (KafkaCluster("bench-src", heap_mb=BROKER_HEAP_MB, overrides=defaults),
                KafkaCluster("bench-dst", heap_mb=BROKER_HEAP_MB, overrides=defaults))
    if routes:
        add_routes(clusters[1], routes)
    try:
        for c in clusters:
            c.launch()
        for c in clusters:
            c.wait_started()
        yield clusters
    finally:
        for c in clusters:
            c.stop()


@dataclass
class DelayProxy:
    """delay_proxy.py for one route, in its own process, its CPU metered."""

    route: Route
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    meter: CpuMeter | None = None

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = spawn([sys.executable, str(PROXY_SCRIPT),
                               "--listen", str(self.route.proxy_port),
                               "--to", str(self.route.broker_port),
                               "--delay-ms", str(self.route.delay_ms)], stdout=log)
        self.meter = CpuMeter(self.proc.pid).start()
        try:
            wait_for_port(self.route.proxy_port, timeout_s=15, proc=self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise BenchError(f"delay proxy {self.route.listener}: {exc}\n"
                             f"{self.log_path.read_text(errors='replace')}") from None

    def cpu_s(self) -> float:
        assert self.meter is not None
        return sum(self.meter.mark().values())

    def stop(self) -> None:
        if self.meter is not None:
            self.meter.stop()
        proc, self.proc = self.proc, None
        if proc is not None:
            stop_process(proc, timeout_s=10)


@contextlib.contextmanager
def proxies(routes: dict[str, Route], folder: Path) -> Iterator[dict[str, DelayProxy]]:
    started: dict[str, DelayProxy] = {}
    try:
        for name, route in routes.items():
            started[name] = DelayProxy(route, folder / f"proxy-{name.lower()}.log")
            started[name].start()
            info(f"delay proxy {name}: {route.bootstrap} -> broker listener "
                 f"127.0.0.1:{route.broker_port}, {route.delay_ms} ms each way")
        yield started
    finally:
        for p in started.values():
            p.stop()


def stored_bytes(cluster: KafkaCluster, topic: str) -> int:
    """Bytes of `topic`'s log segments on the target's node: what the batches weigh as
    stored (and as sent), so compression shows whether it was applied."""
    data = cluster.nodes[0].folder / "data"
    return sum(f.stat().st_size for d in data.glob(f"{topic}-*") if d.is_dir()
               and d.name.rsplit("-", 1)[1].isdigit() for f in d.glob("*.log"))


def renamed(res: Result, name: str) -> Result:
    return dataclasses.replace(res, name=name)


# The producer settings both replicators use in the case: MirrorMaker 2's
# target.producer linger.ms and batch.size (mirrormaker.PRODUCER_SETTINGS), ksync's task
# options of the same meaning; compression per codec, for both.
FAR_LINGER_MS = int(PRODUCER_SETTINGS["linger.ms"])
FAR_BATCH_BYTES = int(PRODUCER_SETTINGS["batch.size"])
CODECS = ("none", "lz4")
FAR_SIZE = 1024


def far_target(src: str, target: KafkaCluster, routes: dict[str, Route], records: int,
               partitions: int) -> None:
    """ksync (task_max 1) and MirrorMaker 2 (tasks.max 1) to a target 20 ms away, with
    compression none and lz4, in the order ksync, MM2, MM2, ksync per codec, on
    compressible JSON-like 1 KB values. First the proxy's own cost: produce-only direct
    and through the 0 ms proxy (and through the far one, the writing side's bound)."""
    n, size, dst = records, FAR_SIZE, target.bootstrap
    far = routes[FAR].bootstrap
    deadline = 300 + n / 500
    topic = "bench-far"
    print(f"\n== far target: {n} records of {size} B JSON-like text, {partitions} partitions, "
          f"+{2 * routes[FAR].delay_ms} ms RTT to the target (delaying TCP proxy: the kernel "
          f"has no netem qdiscs)", flush=True)
    print(f"  both replicators: linger {FAR_LINGER_MS} ms, batch {FAR_BATCH_BYTES} B, "
          f"compression per run", flush=True)
    with proxies(routes, target.folder) as running:
        for via, name in ((dst, "produce direct"), (routes[NEAR].bootstrap, "produce proxy 0ms"),
                          (routes[NEAR].bootstrap, "produce proxy 0ms"), (dst, "produce direct"),
                          (far, f"produce proxy {routes[FAR].delay_ms}ms")):
            before = {k: p.cpu_s() for k, p in running.items()}
            res = renamed(produce_only(via, n, size, partitions, deadline), name)
            cpu = ", ".join(f"{k} {p.cpu_s() - before[k]:.1f}" for k, p in running.items())
            print(f"{res.line()}  (proxy CPU s: {cpu})", flush=True)
        print(load(src, topic, n, size, partitions, deadline, values=text_pool(size)).line(),
              flush=True)
        server = KsyncServer()
        results: dict[tuple[str, str], list[Result]] = {}
        try:
            server.start()
            ids = server.register(src, far)
            run = 0
            for codec in CODECS:
                for who in ("ksync", "mm2", "mm2", "ksync"):
                    run += 1
                    name = f"{who} far {codec} #{run}"
                    stored: list[int] = []

                    def weigh(t: str, into: list[int] = stored) -> None:
                        into.append(stored_bytes(target, t))

                    proxy_before = running[FAR].cpu_s()
                    if who == "ksync":
                        res = run_ksync_task(
                            server, ids, dst, topic, n, size, partitions, 1, f"fk{run}",
                            deadline, name, {"compression": codec, "linger_ms": FAR_LINGER_MS,
                                             "batch_bytes": FAR_BATCH_BYTES}, on_arrival=weigh)
                    else:
                        res = run_mirrormaker(src, dst, topic, n, size, partitions, 1,
                                              f"fm{run}", deadline, name, compression=codec,
                                              target=far, on_arrival=weigh)
                    res.note = (f"stored {stored[0] / 1e6:.0f} MB, proxy "
                                f"{running[FAR].cpu_s() - proxy_before:.1f} CPU s {res.note}")
                    results.setdefault((who, codec), []).append(res)
                    print(res.line(), flush=True)
        finally:
            server.stop()
    print(f"\n-- summary, far target (+{2 * routes[FAR].delay_ms} ms RTT; means of two runs)",
          flush=True)
    for codec in CODECS:
        k, m = results[("ksync", codec)], results[("mm2", codec)]
        print(f"far ksync/MM2 compression={codec}: steady throughput "
              f"{mean([r.steady_rate for r in k]) / mean([r.steady_rate for r in m]):.2f} "
              f"(ksync {mean([r.steady_rate for r in k]):.0f} rec/s, "
              f"MM2 {mean([r.steady_rate for r in m]):.0f} rec/s), MB/s per core "
              f"{mean([r.mb_per_core or 0 for r in k]) / mean([r.mb_per_core or 0 for r in m]):.2f}",
              flush=True)
