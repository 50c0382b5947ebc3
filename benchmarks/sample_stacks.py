"""Run a module (`-m ksync server …`) with a sampling profiler of every Python thread.

    python benchmarks/sample_stacks.py OUT.txt -m ksync server --port …

Every 20 ms a thread reads `sys._current_frames()` and counts each thread's stack (by
thread name) and each function on it; every 10 s (the server may die by the signal
that stops it, past atexit) OUT.txt is rewritten with the functions seen on the most
samples, inclusive and on top, per thread group. No dependency: py-spy
is not in the lock, and cProfile sees only the thread that started it.
"""

from __future__ import annotations

import atexit
import collections
import re
import runpy
import sys
import threading
import time
from types import FrameType

INTERVAL_S = 0.02
TOP = 40
DUMP_S = 10.0


class Sampler:
    def __init__(self, out: str) -> None:
        self.out = out
        self.samples: collections.Counter[str] = collections.Counter()
        self.inclusive: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self.leaf: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
        self._stop = threading.Event()
        self._me = 0

    def start(self) -> None:
        thread = threading.Thread(target=self._run, name="stack-sampler", daemon=True)
        thread.start()
        self._me = thread.ident or 0

    def _run(self) -> None:
        next_dump = time.monotonic() + DUMP_S
        while not self._stop.wait(INTERVAL_S):
            if time.monotonic() > next_dump:
                next_dump = time.monotonic() + DUMP_S
                self.dump()
            names = {t.ident: t.name for t in threading.enumerate()}
            for ident, frame in sys._current_frames().items():
                if ident == self._me:
                    continue
                group = re.sub(r"[-_]?\d+$", "", re.sub(r"task-\w+", "task", names.get(ident, "?")))
                self.samples[group] += 1
                self._count(group, frame)

    def _count(self, group: str, frame: FrameType | None) -> None:
        seen = set()
        top = True
        while frame is not None:
            code = frame.f_code
            key = f"{code.co_filename.split('site-packages/')[-1].split('/src/')[-1]}:{code.co_name}"
            if top:
                self.leaf[group][key] += 1
                top = False
            if key not in seen:
                seen.add(key)
                self.inclusive[group][key] += 1
            frame = frame.f_back

    def dump(self) -> None:
        with open(self.out, "w") as f:
            f.write(f"samples every {INTERVAL_S * 1000:.0f} ms at {time.ctime()}\n")
            for group, n in self.samples.most_common():
                f.write(f"\n## thread group {group}: {n} samples\n")
                for title, counts in (("inclusive", self.inclusive[group]), ("on top", self.leaf[group])):
                    f.write(f"-- {title}\n")
                    f.writelines(f"{100 * c / n:6.1f} %  {key}\n" for key, c in counts.most_common(TOP))


def main() -> None:
    out, flag, module, *rest = sys.argv[1:]
    if flag != "-m":
        raise SystemExit("usage: sample_stacks.py OUT -m module [args…]")
    sampler = Sampler(out)
    atexit.register(sampler.dump)
    sampler.start()
    sys.argv = [module, *rest]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
