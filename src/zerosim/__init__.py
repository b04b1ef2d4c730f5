"""zerosim: an agent-based simulator of zero-COVID containment and of what it costs people.

Public API::

    import zerosim
    results = zerosim.run("demo", overrides={"population.size": 100_000}, out="results/demo")
    results.summary["attack_rate"]
    faster = zerosim.apply_overrides(zerosim.load_scenario("demo"), {"duration_days": 30})

Everything else lives in the layer subpackages (population, engine, disease, transmission, policy,
behaviour, ledger, io, viz, report, region, experiments, dashboard, cli); see docs/model.md#layers.
"""

from __future__ import annotations

import os

__version__ = "0.1.0"

# Numba's parallel kernels run on OpenMP threads, which by default spin while they wait for each
# other. On a two-core machine with anything else running, a kernel then waits for a thread the
# system has descheduled: the 1M dynamic-zero benchmark took 21 s instead of 4.7 s with another
# process busy (docs/performance.md). Sleeping waiters cost little when the machine is idle.
# Must be set before the OpenMP library loads (at the first parallel kernel); a user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from zerosim.api import build, run  # noqa: E402
from zerosim.errors import InputError, OutputError, RunDirError, ScenarioError, StateError, ZerosimError  # noqa: E402
from zerosim.io.compare import Comparison, compare_runs, headline  # noqa: E402
from zerosim.io.results import Results, read_results  # noqa: E402
from zerosim.io.scenario import Scenario, apply_overrides, builtin_names, load_scenario  # noqa: E402

__all__ = [
    "Comparison",
    "compare_runs",
    "headline",
    "InputError",
    "OutputError",
    "Results",
    "RunDirError",
    "Scenario",
    "ScenarioError",
    "StateError",
    "ZerosimError",
    "__version__",
    "apply_overrides",
    "build",
    "builtin_names",
    "load_scenario",
    "read_results",
    "run",
]
