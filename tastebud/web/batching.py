"""Micro-batching for `tastebud serve --model`, the way TF Serving's batching works.

Requests that arrive within `batch_timeout_ms` of each other share one model call, up to
`max_batch_size` images (TF Serving: `max_batch_size`, `batch_timeout_micros`,
`max_enqueued_batches`, `num_batch_threads`). A batch closes when it is full, or when its
oldest request has waited `batch_timeout_ms` and a batch thread is free; while every
batch thread is busy, arrivals keep filling the next batch, so batches grow with load.

Requests are atomic: all of a request's images go into one batch (a request with more
images than `max_batch_size` goes alone). If a model call raises, the batch is bisected
by request until the failing requests are alone, so one bad image fails only its own
request (`ImageFailed` names which image); its batch-mates get their normal answers.

Bounded: at most `max_enqueued_batches * max_batch_size` images wait (`QueueFull`
beyond that; an empty queue always takes one request), and a request not answered
within `request_timeout_s` gets `DeadlineExceeded` and leaves the queue. A running model
call cannot be interrupted: its late answers are dropped.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

PredictFn = Callable[[list[bytes], list[str]], tuple[str, list]]


@dataclass(frozen=True)
class BatchingParams:
    """The knobs of `tastebud serve`, after TF Serving's batching parameters (its flags override):
    concurrent requests share one model call."""

    max_batch_size: int = 16  # images per model call (TF Serving: max_batch_size)
    batch_timeout_ms: float = 2.0  # longest a request waits for batch-mates (batch_timeout_micros / 1000)
    max_enqueued_batches: int = 4  # images waiting beyond this many full batches get a 503
    num_batch_threads: int = 1  # model calls at once; TF already uses every core per call
    request_timeout_s: float = 30.0  # per-request deadline, queue + model (then a 504)

    def __post_init__(self) -> None:
        if self.max_batch_size < 1 or self.max_enqueued_batches < 1 or self.num_batch_threads < 1:
            raise ValueError("max_batch_size, max_enqueued_batches and num_batch_threads must be at least 1")
        if self.batch_timeout_ms < 0 or self.request_timeout_s <= 0:
            raise ValueError("batch_timeout_ms must be >= 0 and request_timeout_s > 0")

    @property
    def max_enqueued_images(self) -> int:
        return self.max_batch_size * self.max_enqueued_batches


class QueueFull(RuntimeError):
    """Too many images are waiting: answer 503 and let the client retry."""


class DeadlineExceeded(TimeoutError):
    """The request was not answered within request_timeout_s: answer 504."""


class ImageFailed(RuntimeError):
    """The model call failed on the request's image number `index` (0-based); `error` is why."""

    def __init__(self, index: int, error: Exception):
        super().__init__(f"image {index}: {error}")
        self.index, self.error = index, error


@dataclass
class _Request:
    images: list[bytes]
    names: list[str]
    future: Future = field(default_factory=Future)
    arrived: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """Batches concurrent `predict(images, names)` calls into shared model calls.

    `predict_fn(images, keys) -> (model_version, predictions)` is called from the batch
    threads (daemon threads, started on first use; `close()` stops them), with at most
    max_batch_size images unless one request alone is bigger.
    """

    def __init__(self, predict_fn: PredictFn, params: BatchingParams | None = None):
        self.predict_fn, self.params = predict_fn, params or BatchingParams()
        self._cond = threading.Condition()
        self._forming = threading.Lock()  # one batch thread at a time gathers a batch
        self._queue: deque[_Request] = deque()
        self._queued_images = 0
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._counts: Counter = Counter()
        self._sizes: Counter = Counter()

    # ---- the caller's side ------------------------------------------------------------

    async def predict(self, images: list[bytes], names: list[str]) -> tuple[str, list]:
        """(model_version, one prediction per image). Raises QueueFull, DeadlineExceeded,
        ImageFailed, or the model's own error when it cannot be pinned on one image."""
        request = self.submit(images, names)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(request.future), self.params.request_timeout_s)
        except TimeoutError:  # wait_for cancelled the future: dropped from the queue if still there
            self._count("timed_out")
            raise DeadlineExceeded(f"no answer within {self.params.request_timeout_s:g} s") from None

    def submit(self, images: list[bytes], names: list[str]) -> _Request:
        """Enqueues one request; its `future` gets the answer. Raises QueueFull."""
        request = _Request(list(images), list(names))
        with self._cond:
            if self._closed:
                raise RuntimeError("the batcher is closed")
            limit = self.params.max_enqueued_images
            if self._queued_images and self._queued_images + len(images) > limit:
                self._counts["rejected_queue_full"] += 1
                raise QueueFull(f"{self._queued_images} images are waiting for the model (limit {limit})")
            self._queue.append(request)
            self._queued_images += len(images)
            self._start_threads()
            self._cond.notify_all()
        request.future.add_done_callback(lambda f: f.cancelled() and self._discard(request))
        return request

    def stats(self) -> dict:
        """Counters since start: requests, images, model calls, batch sizes (images -> calls)."""
        with self._cond:
            return {
                **{k: self._counts[k] for k in ("requests", "images", "batches", "model_calls", "isolation_calls")},
                **{k: self._counts[k] for k in ("failed_requests", "rejected_queue_full", "timed_out")},
                "batch_sizes": {str(size): n for size, n in sorted(self._sizes.items())},
                "max_batch_size_seen": max(self._sizes, default=0),
                "queued_images": self._queued_images,
                "params": {
                    "max_batch_size": self.params.max_batch_size,
                    "batch_timeout_ms": self.params.batch_timeout_ms,
                    "max_enqueued_batches": self.params.max_enqueued_batches,
                    "num_batch_threads": self.params.num_batch_threads,
                    "request_timeout_s": self.params.request_timeout_s,
                },
            }

    def close(self) -> None:
        """Stops the batch threads after their current batch; queued requests are cancelled."""
        with self._cond:
            self._closed = True
            pending = list(self._queue)
            self._cond.notify_all()
        for request in pending:
            request.future.cancel()

    # ---- the batch threads --------------------------------------------------------------

    def _count(self, key: str, n: int = 1) -> None:
        with self._cond:
            self._counts[key] += n

    def _discard(self, request: _Request) -> None:
        with self._cond:
            if request in self._queue:
                self._queue.remove(request)
                self._queued_images -= len(request.images)

    def _start_threads(self) -> None:  # under self._cond
        while len(self._threads) < self.params.num_batch_threads:
            thread = threading.Thread(target=self._serve, daemon=True, name=f"batch-{len(self._threads)}")
            self._threads.append(thread)
            thread.start()

    def _serve(self) -> None:
        while True:
            with self._forming:
                batch = self._gather()
            if batch is None:
                return
            if batch:
                self._run(batch)

    def _gather(self) -> list[_Request] | None:
        """Waits for a first request, then for batch-mates until full or timed out. None: closed."""
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            closes = self._queue[0].arrived + self.params.batch_timeout_ms / 1000
            batch, size = [], 0
            while True:
                size += self._take(batch, size)
                remaining = closes - time.monotonic()
                if size >= self.params.max_batch_size or remaining <= 0 or self._closed:
                    return batch
                if self._queue:  # the next request does not fit: close the batch now
                    return batch
                self._cond.wait(remaining)

    def _take(self, batch: list[_Request], size: int) -> int:
        """Moves queued requests that fit into `batch` (under self._cond); returns images added."""
        added = 0
        while self._queue:
            n = len(self._queue[0].images)
            if batch and size + added + n > self.params.max_batch_size:
                break
            request = self._queue.popleft()
            self._queued_images -= n
            if request.future.set_running_or_notify_cancel():  # False: it timed out while queued
                batch.append(request)
                added += n
        return added

    def _run(self, batch: list[_Request]) -> None:
        images = sum(len(r.images) for r in batch)
        with self._cond:
            self._counts.update(requests=len(batch), images=images, batches=1)
            self._sizes[images] += 1
        for request, outcome in zip(batch, self._outcomes(batch, "model_calls"), strict=True):
            if isinstance(outcome, BaseException):
                self._count("failed_requests")
                request.future.set_exception(outcome)
            else:
                request.future.set_result(outcome)

    def _outcomes(self, batch: list[_Request], counter: str) -> list:
        """One (version, predictions) or exception per request: bisects a failing batch."""
        self._count(counter)
        try:
            version, predictions = self.predict_fn(
                [i for r in batch for i in r.images], [n for r in batch for n in r.names]
            )
        except Exception as error:
            if len(batch) == 1:
                return [self._pin_down(batch[0], error)]
            half = len(batch) // 2
            return self._outcomes(batch[:half], "isolation_calls") + self._outcomes(batch[half:], "isolation_calls")
        results, start = [], 0
        for request in batch:
            results.append((version, predictions[start : start + len(request.images)]))
            start += len(request.images)
        return results

    def _pin_down(self, request: _Request, error: Exception) -> Exception:
        """The failing request's first image that fails alone, as ImageFailed; else `error`."""
        if len(request.images) == 1:
            return ImageFailed(0, error)
        for index, (image, name) in enumerate(zip(request.images, request.names, strict=True)):
            self._count("isolation_calls")
            try:
                self.predict_fn([image], [name])
            except Exception as alone:
                return ImageFailed(index, alone)
        return error
