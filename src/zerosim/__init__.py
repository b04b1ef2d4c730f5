"""zerosim: an agent-based simulator of zero-COVID containment and of what it costs people.

Public API::

    import zerosim
    results = zerosim.run("demo", overrides={"population.size": 100_000}, out="results/demo")
    results.summary["attack_rate"]

Everything else lives in the layer subpackages (population, disease, transmission, policy,
behaviour, ledger, engine, io, cli, viz); see docs/model.md.
"""

from __future__ import annotations

__version__ = "0.1.0"

from zerosim.api import build, run  # noqa: E402
from zerosim.errors import OutputError, ScenarioError, StateError, ZerosimError  # noqa: E402
from zerosim.io.compare import Comparison, compare_runs, headline  # noqa: E402
from zerosim.io.results import Results, read_results  # noqa: E402
from zerosim.io.scenario import Scenario, builtin_names, load_scenario  # noqa: E402

__all__ = [
    "Comparison",
    "compare_runs",
    "headline",
    "OutputError",
    "Results",
    "Scenario",
    "ScenarioError",
    "StateError",
    "ZerosimError",
    "__version__",
    "build",
    "builtin_names",
    "load_scenario",
    "read_results",
    "run",
]
