"""Quiet, readable output: tastebud's own lines by default, everything with --verbose.

TensorFlow, absl, Beam and TFX print dozens of lines a user on a CPU machine cannot act
on (cuInit errors, oneDNN notices, "Fallback to non-ZetaSQL", deprecation warnings).
`configure()` runs before TensorFlow is imported and keeps only ERROR and above from
them; tastebud's own progress, results and warnings are printed directly and are not
affected. `--verbose` or `TASTEBUD_LOG=debug` brings everything back. Errors are never
hidden: exceptions still propagate, and ERROR records are still printed.

`ComponentProgress` turns TFX's LocalDagRunner records ("Component X is running." /
"... is finished.") into live lines with the elapsed time.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import logging
import os
import sys
import tempfile
import threading
import time
import warnings

NOISY_LOGGERS = ("absl", "tensorflow", "apache_beam", "tfx", "tensorflow_transform", "tensorflow_model_analysis")


def verbose_requested(argv: list[str] | None = None) -> bool:
    argv = sys.argv[1:] if argv is None else argv
    return "--verbose" in argv or os.environ.get("TASTEBUD_LOG", "").lower() == "debug"


def configure(verbose: bool) -> None:
    """Sets the libraries' verbosity. Call before TensorFlow is imported (its C++ log level is read once)."""
    os.environ["TASTEBUD_LOG"] = "debug" if verbose else os.environ.get("TASTEBUD_LOG", "quiet")
    if verbose:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"  # C++: cuInit, oneDNN, JPEG decoder warnings
    os.environ["GRPC_VERBOSITY"] = "ERROR"
    if not any(isinstance(finder, _QuietTensorFlowImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())
    for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, UserWarning):
        warnings.filterwarnings("ignore", category=category)
    logging.getLogger().setLevel(logging.ERROR)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)


_CAPTURE_LOCK = threading.RLock()  # re-entrant: TensorFlow's quiet import may nest


class NativeOutput:
    """What C code wrote to file descriptor 2 inside `native_stderr_to_text()`."""

    text = ""


@contextlib.contextmanager
def native_stderr_to_text():
    """Takes what C libraries print to fd 2 inside the block (libjpeg's "Corrupt JPEG data:
    N extraneous bytes before marker 0xd9", printed by TensorFlow's JPEG decoder whatever
    TF_CPP_MIN_LOG_LEVEL says) as text for the caller to report, instead of letting it land
    in the middle of tastebud's output. Replayed to stderr if the block raises.

    fd 2 is process-wide: blocks are serialised by a lock, and a line another thread
    writes to stderr during one would be taken too. Use it only in single-threaded work
    (the batch jobs' DoFns, the CLI), never in the web server's request threads.
    """
    result = NativeOutput()
    with _CAPTURE_LOCK, tempfile.TemporaryFile() as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield result
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            os.write(2, captured.read())
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        result.text = captured.read().decode("utf-8", "replace").strip()


@contextlib.contextmanager
def native_stderr_quiet():
    """Native (C++) stderr hidden for a block unless verbose, e.g. LiteRT's "Created TensorFlow Lite
    XNNPACK delegate" line; replayed if the block raises."""
    if os.environ.get("TASTEBUD_LOG", "").lower() == "debug":
        yield
        return
    with native_stderr_to_text():  # dropped unless the block raises
        yield


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `tensorflow` with its native start-up lines silenced.

    TensorFlow's shared libraries log through absl before any setting applies ("All log
    messages before absl::InitializeLog()", "Could not find cuda drivers"), so neither
    TF_CPP_MIN_LOG_LEVEL nor Python logging can hide them. If the import fails, what it
    printed is replayed, so errors are never hidden.
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # find the real spec, once
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.loader is not None:
            self.real_loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.real_loader.create_module(spec)

    def exec_module(self, module) -> None:
        with native_stderr_to_text():  # dropped unless the import fails
            self.real_loader.exec_module(module)


def keras_verbosity() -> int:
    """Keras fit() verbosity: one line per epoch when verbose, silent otherwise."""
    return 2 if os.environ.get("TASTEBUD_LOG", "").lower() == "debug" else 0


class ComponentProgress(logging.Handler):
    """Prints '[pipeline] Transform ... started' / '... done in 29.3 s' as TFX runs each component.

    Attached to the absl logger (TFX logs through absl); it raises that logger to INFO
    so the records exist, and stops them from reaching other handlers unless verbose.
    """

    MARKERS = {" is running.": "started", " is finished.": "done"}

    def __init__(self, stream=None):
        super().__init__(logging.INFO)
        self.stream = stream or sys.stderr
        self.started: dict[str, float] = {}
        self.finished: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for marker, event in self.MARKERS.items():
            if message.startswith("Component ") and message.endswith(marker):
                self._print(message[len("Component ") : -len(marker)], event)

    def _print(self, component: str, event: str) -> None:
        now = time.monotonic()
        if event == "started":
            self.started[component] = now
            line = f"[pipeline] {component} ..."
        else:
            self.finished.add(component)
            line = f"[pipeline] {component} done in {now - self.started.get(component, now):.1f} s"
        print(line, file=self.stream, flush=True)

    def running(self) -> str | None:
        """The component last started and not finished (where a run stopped), or None."""
        return next((c for c in reversed(self.started) if c not in self.finished), None)

    @classmethod
    def install(cls, verbose: bool) -> ComponentProgress:
        from absl import logging as absl_logging

        handler = cls()
        # absl's verbosity flag, not just the logger's level: TensorFlow's SavedModel code
        # lowers it and restores the flag's value while saving, which would drop INFO for good.
        absl_logging.set_verbosity(absl_logging.INFO)
        absl_logger = logging.getLogger("absl")
        absl_logger.addHandler(handler)
        if not verbose:  # INFO records now exist; keep all but errors from other handlers
            absl_logger.propagate = False
            errors = logging.StreamHandler(sys.stderr)
            errors.setLevel(logging.ERROR)
            absl_logger.addHandler(errors)
        return handler
