"""Top layer (beside ``api``): compile every Numba kernel once, into Numba's on-disk cache.

``make install`` (and so ``make demo``) runs ``python -m zerosim.warmup``: a few small runs, one per
kernel family (each built-in policy preset, the well-mixed scenario, a region), so that every
kernel a real run calls is compiled with the exact argument types of a real run -- Numba's cache
is keyed by those types -- and written next to its source (or under ``NUMBA_CACHE_DIR``). The first
``zerosim run`` afterwards then loads the machine code instead of compiling it.

Where a run must still compile (a kernel source changed since the install, or the cache was
removed), :class:`CompileWatch` sees Numba start compiling and the CLI says so on its progress
display, with an estimate from :func:`compile_estimate_seconds`.

Imports the API (and so every layer) only inside :func:`warm`; the rest imports only the kernel
modules.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Callable, Iterator

#: Modules that define Numba kernels (every ``@njit`` of zerosim is in one of these).
KERNEL_MODULES = (
    "zerosim.population.counter_rng",
    "zerosim.population.kernels",
    "zerosim.disease.kernels",
    "zerosim.transmission.kernels",
    "zerosim.behaviour.kernels",
    "zerosim.policy.kernels",
    "zerosim.policy.testing_kernels",
    "zerosim.ledger.kernels",
    "zerosim.engine.invariants",
)

#: The warm-up runs: (what it compiles, scenario, overrides). Small, but long enough that
#: containment triggers (cases found, compounds sealed, districts closed, food delivered).
WARMUP_RUNS: tuple[tuple[str, str, dict], ...] = (
    ("no containment", "demo", {"population.size": 20_000, "duration_days": 30}),
    ("dynamic-zero-2022", "demo", {"population.size": 20_000, "duration_days": 60, "policy": "dynamic-zero-2022"}),
    ("shijiazhuang-2021", "demo", {"population.size": 20_000, "duration_days": 40, "policy": "shijiazhuang-2021"}),
    ("wuhan-2020", "demo", {"population.size": 20_000, "duration_days": 40, "policy": "wuhan-2020"}),
    ("twenty-measures-nov-2022", "demo",
     {"population.size": 20_000, "duration_days": 40, "policy": "twenty-measures-nov-2022"}),
    ("antigen self-tests", "demo", {"population.size": 20_000, "duration_days": 20, "policy": "dynamic-zero-2022",
                                    "containment.testing.antigen_self_test_probability_per_day": 0.02}),
    ("behaviour", "demo", {"population.size": 20_000, "duration_days": 30, "policy": "dynamic-zero-2022",
                           "behaviour.enabled": True}),
    ("well-mixed", "well-mixed", {"population.size": 20_000, "duration_days": 40}),
)

#: Cold compile of every kernel, CPU seconds on the development machine (2 cores; see
#: docs/performance.md, "First run"). Scaled by the share of kernels not cached for the estimate.
COLD_COMPILE_SECONDS = 60.0


def dispatchers() -> Iterator[tuple[str, object]]:
    """Every Numba kernel of zerosim, as (module.name, dispatcher)."""
    from numba.core.registry import CPUDispatcher

    for module_name in KERNEL_MODULES:
        module = importlib.import_module(module_name)
        for name, value in vars(module).items():
            if isinstance(value, CPUDispatcher) and value.py_func.__module__ == module_name:
                yield f"{module_name}.{name}", value


def has_cache(dispatcher) -> bool | None:
    """Whether Numba's on-disk cache holds machine code of ``dispatcher`` for its current source
    (None when it cannot be told: Numba's cache internals are not public API)."""
    try:
        return bool(dispatcher._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 - private API of Numba: any change means "unknown"
        return None


def uncached_share() -> float | None:
    """The share of zerosim's kernels with nothing in the on-disk cache (None: unknown). Kernels
    inlined into their callers (``inline="always"``) have no cache entry of their own: not counted."""
    flags = [has_cache(dispatcher) for _, dispatcher in dispatchers()
             if dispatcher.targetoptions.get("inline") != "always"]
    if not flags or any(flag is None for flag in flags):
        return None
    return sum(1 for flag in flags if not flag) / len(flags)


def compile_estimate_seconds() -> int:
    """About how long compiling what is missing from the cache takes (whole seconds, at least 5)."""
    share = uncached_share()
    return max(5, round(COLD_COMPILE_SECONDS * (1.0 if share is None else share) / 5) * 5)


def compiling_message(seconds: int) -> str:
    """The progress display's words while Numba compiles."""
    return f"compiling kernels, first run only, about {seconds} s"


class CompileWatch:
    """Calls ``on_compile()`` once, when Numba starts compiling a function in this process.

    Use as a context manager around a run. Numba reports a compile (``numba:compile`` event) only
    when the machine code is neither in memory nor in the on-disk cache.
    """

    def __init__(self, on_compile: Callable[[], None]):
        self.on_compile = on_compile
        self.compiled = False
        self._listener = None

    def __enter__(self) -> CompileWatch:
        from numba.core import event

        watch = self

        class _Listener(event.Listener):
            def on_start(self, _event) -> None:
                if not watch.compiled:
                    watch.compiled = True
                    watch.on_compile()

            def on_end(self, _event) -> None:
                pass

        self._listener = _Listener()
        event.register("numba:compile", self._listener)
        return self

    def __exit__(self, *exc) -> bool:
        from numba.core import event

        event.unregister("numba:compile", self._listener)
        return False


def cache_counts() -> dict[str, tuple[int, int]]:
    """kernel -> (cache hits, cache misses) of this process, from each dispatcher's own statistics."""
    counts = {}
    for name, dispatcher in dispatchers():
        stats = dispatcher.stats
        counts[name] = (sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
    return counts


def warm(runs=WARMUP_RUNS, echo: Callable[[str], None] = print) -> dict[str, tuple[int, int]]:
    """Run each warm-up run (no output files); return the cache statistics of every kernel."""
    from zerosim.api import run
    from zerosim.region.results import run_region

    for label, scenario, overrides in runs:
        started = time.perf_counter()
        run(scenario, overrides=overrides, figures=False)
        echo(f"  {label}: {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    run_region("diverted-train", overrides={"duration_days": 20}, figures=False)
    echo(f"  region (diverted-train): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    _run_checked(run)
    echo(f"  check mode (--check): {time.perf_counter() - started:.1f} s")
    return cache_counts()


def _run_checked(run) -> None:
    """One short run in check mode (zerosim run --check), so the invariant kernels are cached too."""
    import os

    from zerosim.engine.invariants import CHECK_ENV

    before = os.environ.get(CHECK_ENV)
    os.environ[CHECK_ENV] = "1"
    try:
        run("demo", overrides={"population.size": 20_000, "duration_days": 20, "policy": "dynamic-zero-2022"},
            figures=False)
    finally:
        if before is None:
            os.environ.pop(CHECK_ENV, None)
        else:
            os.environ[CHECK_ENV] = before


def main(argv: list[str] | None = None) -> int:
    """``python -m zerosim.warmup``: compile (or load) every kernel; list any kernel left uncompiled."""
    argv = sys.argv[1:] if argv is None else argv
    started = time.perf_counter()
    print("zerosim: compiling the Numba kernels once, into the on-disk cache (a few minutes the first time)",
          flush=True)
    counts = warm(echo=lambda line: print(line, flush=True))
    unused = sorted(name for name, dispatcher in dispatchers()
                    if dispatcher.targetoptions.get("inline") != "always" and has_cache(dispatcher) is False)
    compiled = sum(misses for _, misses in counts.values())
    loaded = sum(hits for hits, _ in counts.values())
    print(f"zerosim: kernels ready in {time.perf_counter() - started:.0f} s ({compiled} compiled, {loaded} "
          f"loaded from the cache)", flush=True)
    if "--verbose" in argv and unused:
        print("kernels still not in the cache (called only by tests, or inside other kernels): " + ", ".join(unused))
    return 0


if __name__ == "__main__":
    sys.exit(main())
