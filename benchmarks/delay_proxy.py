"""A TCP proxy on 127.0.0.1 that delays every byte by a fixed time in each direction.

    python benchmarks/delay_proxy.py --listen 21001 --to 21000 --delay-ms 10

The bench's far target (far.py) runs it in a process of its own, so its CPU is charged
neither to ksync's nor to MirrorMaker 2's process tree. It stands in for `tc netem`, which
needs qdiscs (prio, netem) the development machine's kernel does not have.

Each direction of a connection is a delayed stream, not stop-and-wait: a reader takes
whatever has arrived, stamps it with `now + delay` and queues it at once, and a writer
sends each chunk when its time comes. So the delay adds latency only, and what one
connection can carry is bounded by the sender's window over the round trip (as on a real
far link), not by one chunk per round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import signal
import sys

CHUNK = 256 * 1024
# Bytes held per direction before the reader waits for the writer: far above what a
# Kafka client keeps in flight over 10 ms at loopback rates, so it never paces the
# stream, but a stalled receiver cannot make the proxy hold a topic's worth of data.
HELD_MAX = 64 * 1024 * 1024


class DelayedStream:
    """One direction of a connection: bytes read from `reader` reach `writer` `delay_s`
    after they arrived."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 delay_s: float) -> None:
        self.reader, self.writer, self.delay_s = reader, writer, delay_s
        self.chunks: collections.deque[tuple[float, bytes]] = collections.deque()
        self.arrived = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()
        self.held = 0

    async def read(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await self.reader.read(CHUNK)
            self.chunks.append((loop.time() + self.delay_s, data))  # b"": end of stream
            self.arrived.set()
            if not data:
                return
            self.held += len(data)
            if self.held > HELD_MAX:
                self.room.clear()
                await self.room.wait()

    async def write(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            while not self.chunks:
                self.arrived.clear()
                await self.arrived.wait()
            release, data = self.chunks.popleft()
            wait = release - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if self.writer.can_write_eof():
                    self.writer.write_eof()
                return
            self.writer.write(data)
            # Waits only while the socket's send buffer is full (the receiver is slow);
            # chunks due meanwhile go out together after it.
            await self.writer.drain()
            self.held -= len(data)
            if self.held <= HELD_MAX:
                self.room.set()


class Proxy:
    def __init__(self, target_port: int, delay_s: float) -> None:
        self.target_port, self.delay_s = target_port, delay_s
        self.connections = 0

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            broker_r, broker_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError as exc:
            print(f"delay proxy: cannot reach 127.0.0.1:{self.target_port}: {exc}",
                  file=sys.stderr, flush=True)
            client_w.close()
            return
        streams = [DelayedStream(client_r, broker_w, self.delay_s),
                   DelayedStream(broker_r, client_w, self.delay_s)]
        tasks = [asyncio.ensure_future(step) for s in streams for step in (s.read(), s.write())]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in pending:
            task.cancel()
        for task in done:
            exc = task.exception()
            # A peer that resets or goes away mid-stream (clients closing at the end of a
            # run, brokers stopped at the end of the bench) ends the connection, nothing more.
            if exc is not None and not isinstance(exc, ConnectionError):
                print(f"delay proxy: connection failed: {exc!r}", file=sys.stderr, flush=True)
        for writer in (client_w, broker_w):
            writer.close()


async def serve(listen_port: int, target_port: int, delay_ms: float) -> None:
    proxy = Proxy(target_port, delay_ms / 1000)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", listen_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"delay proxy: 127.0.0.1:{listen_port} -> 127.0.0.1:{target_port}, "
          f"{delay_ms:g} ms each way", flush=True)
    async with server:
        await stop.wait()
    print(f"delay proxy: stopped after {proxy.connections} connections", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", type=int, required=True, help="port to accept on")
    ap.add_argument("--to", type=int, required=True, help="port to forward to")
    ap.add_argument("--delay-ms", type=float, required=True, help="delay each way, in ms")
    args = ap.parse_args()
    if args.delay_ms < 0:
        ap.error("--delay-ms must not be negative")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.listen, args.to, args.delay_ms))
    return 0


if __name__ == "__main__":
    sys.exit(main())
