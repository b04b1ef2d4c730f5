"""CLI layer: the progress display of long commands (run, ensemble, calibrate, forecast, compare).

On a terminal it is the Rich bar the commands always had. When stderr is a file or a pipe (a log,
CI, ``nohup``), it prints a plain line instead every few percent, at most one per
``ZEROSIM_PROGRESS_SECONDS`` (default 10 s), so a log shows where a long run is::

    day 36/120 (30%), 12,345 infected, 18 s elapsed, ~42 s left

``--quiet`` silences both. Where Numba must compile (no cache yet, see :mod:`zerosim.warmup`), the
display says so: ``compiling kernels, first run only, about N s``.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

#: A plain line at most this often (seconds) unless ``ZEROSIM_PROGRESS_SECONDS`` says otherwise.
PLAIN_INTERVAL_SECONDS = 10.0
#: ... and only once the work has moved on by at least this share since the last line.
PLAIN_STEP_FRACTION = 0.05


def plain_interval_seconds() -> float:
    """Seconds between plain progress lines (``ZEROSIM_PROGRESS_SECONDS``; a bad value: the default)."""
    try:
        return max(0.0, float(os.environ.get("ZEROSIM_PROGRESS_SECONDS", PLAIN_INTERVAL_SECONDS)))
    except ValueError:
        return PLAIN_INTERVAL_SECONDS


def seconds_text(seconds: float) -> str:
    """``42 s``, ``3 min 5 s`` or ``1 h 02 min``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class PlainLines:
    """Plain progress lines on a stream (stderr by default), thinned out in time and in progress."""

    def __init__(self, stream=None, interval_seconds: float | None = None, prefix: str = ""):
        self.stream = stream
        self.interval = plain_interval_seconds() if interval_seconds is None else interval_seconds
        self.prefix = prefix
        self.started = time.perf_counter()
        self._last_time: float | None = None
        self._last_fraction = -1.0

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def say(self, text: str) -> None:
        """Print one line now."""
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write(f"{self.prefix}{text}\n")
        stream.flush()

    def due(self, fraction: float, final: bool = False) -> bool:
        """Whether a line for ``fraction`` done is due: the last one, or both enough time and enough
        progress since the previous line (a fast run prints only a handful)."""
        now = time.perf_counter()
        if final or self._last_time is None or (
                now - self._last_time >= self.interval and fraction - self._last_fraction >= PLAIN_STEP_FRACTION):
            self._last_time = now
            self._last_fraction = fraction
            return True
        return False


class RunDisplay:
    """Progress of one simulation: the Rich bar on a terminal, plain lines otherwise, nothing when quiet.

    Feed it ``phase`` (on_phase), ``day`` (on_day), ``progress`` (on_progress: day and infections
    so far) and ``compiling`` (:class:`zerosim.warmup.CompileWatch`).
    """

    def __init__(self, console: Console, *, quiet: bool, total_days: int | None, label: str = "",
                 description: str = "building population", plain: bool | None = None, stream=None):
        self.quiet = quiet
        self.total = total_days
        self.plain = (not console.is_terminal) if plain is None else plain
        self.lines = PlainLines(stream, prefix=f"{label}: " if label else "")
        self.description = description
        self._compiling = False
        self._simulating_since: float | None = None
        self._days_at_start = 0
        self.bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("days"), TimeElapsedColumn(), console=console,
                            disable=quiet or self.plain, transient=False)
        self.task = None

    def __enter__(self) -> RunDisplay:
        self.bar.__enter__()
        self.task = self.bar.add_task(self.description, total=self.total)
        if self.plain and not self.quiet:
            self.lines.say(self.description)
        return self

    def __exit__(self, *exc) -> bool:
        self.bar.__exit__(*exc)
        return False

    def phase(self, text: str) -> None:
        """A new phase ("building population", "simulating", "writing results", ...)."""
        if text == self.description and self.task is not None:
            return
        self.description = text
        if text == "simulating":
            self._simulating_since = time.perf_counter()
        if self._compiling and text == "simulating":
            return  # keep saying why day 0 is slow
        self.bar.update(self.task, description=text)
        if self.plain and not self.quiet and text != "simulating":
            self.lines.say(text)

    def compiling(self, seconds: int | None = None) -> None:
        """Numba started compiling: say so (once)."""
        from zerosim.warmup import compile_estimate_seconds, compiling_message

        self._compiling = True
        message = compiling_message(compile_estimate_seconds() if seconds is None else seconds)
        self.bar.update(self.task, description=message)
        if self.plain and not self.quiet:
            self.lines.say(message)

    def day(self, day: int) -> None:
        """Day ``day`` is done (the Rich bar)."""
        if self._compiling:  # the estimate of the time left starts after the compile
            self._compiling = False
            self._simulating_since = time.perf_counter()
            self._days_at_start = day + 1
            self.bar.update(self.task, description=self.description)
        self.bar.update(self.task, completed=day + 1)

    def progress(self, day: int, infected: int) -> None:
        """Day ``day`` is done with ``infected`` infections so far (the plain lines)."""
        if not self.plain or self.quiet:
            return
        if self._simulating_since is None:  # a caller without phases: count from here
            self._simulating_since = time.perf_counter()
            self._days_at_start = day
        done = day + 1
        total = self.total or done
        fraction = done / total
        if not self.lines.due(fraction, final=done >= total):
            return
        parts = [f"day {done}/{total} ({100 * fraction:.0f}%)"]
        if infected >= 0:
            parts.append(f"{infected:,} infected")
        parts.append(f"{seconds_text(self.lines.elapsed())} elapsed")
        days_run = done - self._days_at_start
        if done < total and days_run > 0:
            per_day = (time.perf_counter() - self._simulating_since) / days_run
            parts.append(f"~{seconds_text(per_day * (total - done))} left")
        self.lines.say(", ".join(parts))


class CountDisplay:
    """Plain progress lines of a count of work items (ensemble replicates, forecast runs)."""

    def __init__(self, noun: str, stream=None):
        self.noun = noun
        self.lines = PlainLines(stream)

    def update(self, done: int, total: int | None, extra: str = "") -> None:
        if not total:
            return
        fraction = done / total
        if not self.lines.due(fraction, final=done >= total):
            return
        parts = [f"{self.noun} {done}/{total} ({100 * fraction:.0f}%)"]
        if extra:
            parts.append(extra)
        elapsed = self.lines.elapsed()
        parts.append(f"{seconds_text(elapsed)} elapsed")
        if 0 < done < total:
            parts.append(f"~{seconds_text(elapsed / done * (total - done))} left")
        self.lines.say(", ".join(parts))


def compile_watch(display: Callable[[], None]):
    """:class:`zerosim.warmup.CompileWatch` calling ``display`` when Numba starts compiling."""
    from zerosim.warmup import CompileWatch

    return CompileWatch(display)
