"""Numba's on-disk cache (issue 16, item 3): every kernel is cached, a second process loads what
the first compiled (Numba's own statistics, not timings), and after ``python -m zerosim.warmup`` a
real run compiles nothing. Each subprocess gets a temporary ``NUMBA_CACHE_DIR``, so the developer's
cache neither helps nor hides a failure."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from numba import njit

from zerosim.warmup import KERNEL_MODULES, CompileWatch, compiling_message, dispatchers

pytestmark = pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing is compiled without the JIT")

#: Calls some kernels with the argument types of real runs, then prints each one's cache
#: statistics (hits, misses) as JSON.
_CALL_KERNELS = textwrap.dedent("""
    import json
    import numpy as np
    from zerosim.population.kernels import count_codes, where_equal, where_nonzero
    from zerosim.disease.kernels import count_active

    codes = np.array([0, 1, 2, 1, 3], dtype=np.int8)
    days = np.array([-1, 3, 3, -1], dtype=np.int16)
    count_codes(codes, 4)
    where_equal(codes, np.int8(1))
    where_nonzero(days)
    count_active(codes)
    stats = {}
    for kernel in (count_codes, where_equal, where_nonzero, count_active):
        s = kernel.stats
        stats[kernel.py_func.__name__] = [sum(s.cache_hits.values()), sum(s.cache_misses.values())]
    print(json.dumps(stats))
""")


def _environment(cache_dir) -> dict:
    env = {key: value for key, value in os.environ.items() if key != "NUMBA_DISABLE_JIT"}
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    return env


def _kernel_stats(cache_dir) -> dict:
    done = subprocess.run([sys.executable, "-c", _CALL_KERNELS], capture_output=True, text=True,
                          env=_environment(cache_dir), timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_module_with_kernels_is_warmed():
    """A new kernel module must join KERNEL_MODULES (the warm-up's list and these tests')."""
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "src"
    with_kernels = {".".join(path.relative_to(source).with_suffix("").parts)
                    for path in source.rglob("*.py") if re.search(r"^@(numba\.)?n?jit\b", path.read_text(), re.M)}
    assert with_kernels == set(KERNEL_MODULES)


def test_every_kernel_is_cached_on_disk():
    kernels = dict(dispatchers())
    assert len(kernels) > 40 and {name.rsplit(".", 1)[0] for name in kernels} == set(KERNEL_MODULES)
    not_cached = [name for name, dispatcher in kernels.items() if dispatcher.stats.cache_path is None]
    assert not not_cached, f"kernels without cache=True (compiled again by every process): {not_cached}"


def test_a_second_process_loads_the_kernels_the_first_compiled(tmp_path):
    first = _kernel_stats(tmp_path)
    assert all(misses >= 1 and hits == 0 for hits, misses in first.values()), first  # a cold cache: compiled
    second = _kernel_stats(tmp_path)
    assert all(hits >= 1 and misses == 0 for hits, misses in second.values()), second  # loaded, none compiled


def test_compile_watch_reports_a_compile_once():
    calls = []

    @njit  # no cache: compiled in this process
    def add_one(values):
        return values + 1

    with CompileWatch(lambda: calls.append("compiling")) as watch:
        add_one(np.arange(3))
        add_one(np.arange(3.0))  # a second signature: still one report
    assert calls == ["compiling"] and watch.compiled
    with CompileWatch(lambda: calls.append("again")) as watch:
        add_one(np.arange(3))  # in memory already: no compile
    assert calls == ["compiling"] and not watch.compiled
    assert compiling_message(30) == "compiling kernels, first run only, about 30 s"


@pytest.mark.slow
def test_after_the_warm_up_a_run_compiles_nothing(tmp_path):
    """``make install``'s warm-up, then a run of another size and length: no kernel compiled."""
    env = _environment(tmp_path / "cache")
    warm = subprocess.run([sys.executable, "-m", "zerosim.warmup"], capture_output=True, text=True, env=env,
                          timeout=1200)
    assert warm.returncode == 0, warm.stderr
    script = textwrap.dedent("""
        import json
        from zerosim.api import run
        from zerosim.warmup import CompileWatch, cache_counts

        with CompileWatch(lambda: None) as watch:
            run("demo", overrides={"population.size": 50_000, "duration_days": 90, "policy": "dynamic-zero-2022"})
        counts = cache_counts()
        print(json.dumps({"compiled": watch.compiled, "hits": sum(h for h, _ in counts.values()),
                          "misses": sum(m for _, m in counts.values())}))
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["hits"] > 10 and result["misses"] == 0 and not result["compiled"], result
