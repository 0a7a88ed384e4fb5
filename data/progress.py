"""Progress lines for long Beam jobs: '[prepare] checked N of TOTAL files (R/s)', at most every 2 s.

One counter per process and message, shared by the DoFn instances of its threads. On
a multi-process or distributed runner each worker prints its own share.
"""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    _shared: dict[tuple[str, int], Progress] = {}
    _shared_lock = threading.Lock()

    def __init__(self, message: str, total: int, interval_s: float = 2.0):
        """message: a format string with {done}, {total} and {rate} (items per second)."""
        self.message, self.total, self.interval_s = message, total, interval_s
        self.done, self.last, self.started = 0, 0.0, time.monotonic()
        self.lock = threading.Lock()

    @classmethod
    def shared(cls, message: str, total: int) -> Progress:
        with cls._shared_lock:
            return cls._shared.setdefault((message, total), cls(message, total))

    def tick(self, count: int = 1) -> None:
        with self.lock:
            self.done += count
            now = time.monotonic()
            if now - self.last >= self.interval_s or self.done == self.total:
                self.last = now
                rate = self.done / max(now - self.started, 1e-6)
                print(self.message.format(done=self.done, total=self.total, rate=rate), file=sys.stderr, flush=True)
