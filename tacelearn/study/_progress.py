"""What a study run says while it works, and what other libraries say about it.

:class:`Progress` times each stage and prints one line per stage on stderr (and progress bars,
through tqdm, for long loops); it is silent when the run is quiet. :class:`Notes` collects
the warnings that libraries raise while the study runs (a convergence problem of lifelines, an
unseen category at prediction) instead of letting them flood the console: the report lists
them, with how often each occurred and in which stage.
"""

from __future__ import annotations

import sys
import time
import warnings
from contextlib import contextmanager

__all__ = ["Notes", "Progress"]


class Notes:
    """Warnings caught during a run, by stage, counted once per distinct message."""

    def __init__(self):
        self._seen = {}

    @contextmanager
    def collect(self, stage):
        """Catch every warning raised inside the block and record it under ``stage``."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield
            finally:
                for warning in caught:
                    self.add(stage, warning.category.__name__, str(warning.message))

    def add(self, stage, kind, message):
        """Record a note; the same (stage, kind, message) is counted, not repeated."""
        message = " ".join(str(message).split())
        if len(message) > 400:
            message = message[:397] + "..."
        key = (stage, kind, message)
        self._seen[key] = self._seen.get(key, 0) + 1

    def table(self):
        """The notes as rows of dicts: stage, kind, message, count."""
        return [{"stage": stage, "kind": kind, "message": message, "count": count}
                for (stage, kind, message), count in self._seen.items()]

    def __len__(self):
        return len(self._seen)


class Progress:
    """Stage timings and progress messages on stderr.

    Parameters
    ----------
    verbose : bool
        Print; otherwise only time the stages.
    stream : file-like, default=sys.stderr
        Where messages go.
    """

    def __init__(self, verbose, stream=None):
        self.verbose = bool(verbose)
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.seconds = {}

    def say(self, message):
        """One progress line, with the time since the run started."""
        if self.verbose:
            print(f"[tacelearn {time.perf_counter() - self.start:7.1f} s] {message}",
                  file=self.stream, flush=True)

    @contextmanager
    def stage(self, name, message):
        """Time the block as stage ``name`` (added up if the stage comes back)."""
        self.say(message)
        begin = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - begin

    def add_seconds(self, name, seconds):
        """Record a stage timed elsewhere (the generation of the demo's cohort)."""
        self.seconds[name] = self.seconds.get(name, 0.0) + float(seconds)

    def bar(self, total, description, unit):
        """A tqdm progress bar (disabled when quiet); use it as a context manager."""
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=description, unit=unit, disable=not self.verbose,
                    file=self.stream, leave=False)

    def timings(self):
        """Stage seconds rounded for the report (full precision stays in ``seconds``)."""
        return {name: round(value, 2) for name, value in self.seconds.items()}
