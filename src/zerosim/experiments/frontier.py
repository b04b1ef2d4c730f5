"""Experiments layer: the frontier -- for each level of one objective, the least of the others that the levers
could reach (multi-objective search with Optuna's NSGA-II, trials run as Dask tasks).

A *lever* is a scenario field with a range (``containment.zoning.sealed_release_days=7:21``: integers when
both ends are, floats otherwise) or a list of choices (``policy=dynamic-zero-2022,shijiazhuang-2021``). A
lever under ``containment.`` sets that field in the scenario's containment and in every timeline step
whose containment has the field (a step with ``policy: none`` has no campaign 0 and is left alone), so a
rule changes in every period it exists in. Every trial runs the same seeds (common random numbers) and
its objective values are the means over them; all objectives are minimised.

The sampler asks for a batch of trials (one NSGA-II generation), the batch runs as Dask tasks, and the
results are told back in trial order, so a run is reproducible under the sampler's ``seed``.

The *frontier* written is the non-dominated set of the trials run (a point is dominated when another is
no worse in every objective and better in one; of points with equal objectives the first is kept). It is
the best found by this search, not the true frontier of the model. How far inside it the scenario's
actual policy sits is the *radial factor*: the smallest t such that some frontier point f has
f_j <= t * a_j for every objective j (a: the actual policy's values). t < 1 means a frontier point does at
least (1 - t) better on every objective at once; t >= 1 means none found does better on all at once.

Outputs (``out``): ``frontier.parquet`` (the non-dominated set: id, trial, lever values, objective values),
``trials.parquet`` (every trial), ``points/<id>.yaml`` (each frontier point's scenario), ``frontier.json``
(what ran, the actual policy, the radial factor) and the CLI's ``frontier.png``.

Layer ``experiments`` -- imports ``api`` (inside tasks), ``io``, ``ledger.totals`` and the layers below;
never ``cli``.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zerosim.engine.rng import replicate_seed
from zerosim.errors import InputError, MissingDependencyError, OutputError, ScenarioError
from zerosim.io.results import SUMMARY_TOTALS, exclusive, prepare_out_dir, write_atomic
from zerosim.io.safe_yaml import load_yaml
from zerosim.io.scenario import Scenario, apply_dotted, set_containment, validate_mapping, walk_path
from zerosim.ledger.totals import LEDGER_TOTALS

#: Files a frontier writes into its --out (``--force`` replaces these and the ``points/`` folder's YAML files).
FRONTIER_FILES = ("frontier.json", "frontier.parquet", "trials.parquet", "frontier.png")
#: What the radial factor means, written beside it.
INSIDE_DEFINITION = ("radial factor t: the smallest t such that a frontier point f has f_j <= t * a_j for every "
                     "objective j (a = the actual policy); t < 1: that point is at least (1 - t) better on every "
                     "objective at once")


# -- levers -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Lever:
    """A scenario field searched over: ``kind`` is "int" or "float" (``low`` .. ``high``) or "choice"."""

    path: str
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple = ()
    text: str = ""

    def values_to_check(self) -> list:
        return [self.low, self.high] if self.kind != "choice" else list(self.choices)


def _scalar(raw: str, lever: str) -> Any:
    value = load_yaml(raw.strip(), f"--lever {lever}") if raw.strip() else None
    if isinstance(value, (dict, list)) or value is None:
        raise InputError(f"--lever {lever}: '{raw.strip()}' is not a single value; give numbers (lo:hi) or choices a,b,c")
    return value


def parse_lever(text: str) -> Lever:
    """``path=lo:hi`` (ints when both ends are ints, floats otherwise) or ``path=a,b,c`` (choices)."""
    if "=" not in text:
        raise InputError(f"--lever {text}: expected PATH=LO:HI or PATH=A,B,C, e.g. "
                         "--lever containment.zoning.sealed_release_days=7:21")
    path, _, raw = text.partition("=")
    path = path.strip()
    if not path:
        raise InputError(f"--lever {text}: the field name is empty; give PATH=LO:HI")
    if ":" in raw and "," not in raw:
        low_text, _, high_text = raw.partition(":")
        low, high = _scalar(low_text, text), _scalar(high_text, text)
        numbers = [value for value in (low, high) if isinstance(value, (int, float)) and not isinstance(value, bool)]
        if len(numbers) != 2:
            raise InputError(f"--lever {text}: a range needs two numbers LO:HI, e.g. {path}=1:7")
        kind = "int" if all(isinstance(value, int) for value in (low, high)) else "float"
        if not low < high:
            raise InputError(f"--lever {text}: the range {low}:{high} is empty; give LO < HI, e.g. {path}="
                             f"{min(low, high)}:{max(low, high) if low != high else high + 1}")
        return Lever(path, kind, int(low) if kind == "int" else float(low), int(high) if kind == "int" else float(high),
                     text=text)
    choices = tuple(_scalar(item, text) for item in raw.split(",") if item.strip())
    if len(choices) < 2:
        raise InputError(f"--lever {text}: give a range LO:HI or at least two choices A,B, e.g. {path}=1:7")
    if len(set(map(repr, choices))) != len(choices):
        raise InputError(f"--lever {text}: a choice is given twice; list each value once")
    return Lever(path, "choice", choices=choices, text=text)


def apply_levers(scenario: Scenario | dict, values: dict[str, Any]) -> Scenario:
    """A validated copy of ``scenario`` with the lever ``values`` set (``containment.*`` levers in every period
    whose containment has the field). Raises ScenarioError naming the field for a value it refuses."""
    data = scenario.model_dump(mode="json") if isinstance(scenario, Scenario) else json.loads(json.dumps(scenario))
    plain = {}
    for path, value in values.items():
        if path.startswith("containment."):
            set_containment(data, path.removeprefix("containment."), value)
        else:
            plain[path] = value
    return validate_mapping(apply_dotted(data, plain))


def _suggestion(scenario: Scenario, path: str) -> str:
    """``did you mean X?`` for a lever path whose last existing level lacks the next key."""
    keys = path.split(".")
    root: Any = scenario.model_dump(mode="json")
    if keys[0] == "containment":
        root, keys = scenario.resolved_containment().model_dump(mode="json"), keys[1:]
    node = root
    for position, key in enumerate(keys):
        found, child = walk_path(node, [key])
        if not found:
            if isinstance(node, dict):
                near = difflib.get_close_matches(key, list(node), n=1, cutoff=0.5)
                if near:
                    return f"did you mean {'.'.join(path.split('.')[:len(path.split('.')) - len(keys) + position])}" \
                           f".{near[0]}? "
            return ""
        node = child
    return ""


def current_value(scenario: Scenario, path: str) -> Any:
    """The scenario's own value at a lever path (containment paths read the resolved containment), or None."""
    if path.startswith("containment."):
        return walk_path(scenario.resolved_containment().model_dump(mode="json"), path.split(".")[1:])[1]
    return walk_path(scenario.model_dump(mode="json"), path.split("."))[1]


def check_levers(scenario: Scenario, levers: Sequence[Lever]) -> None:
    """Every lever names a field of ``scenario`` and every end or choice is a value it accepts; otherwise a
    one-line InputError naming the lever and the fix (before any work)."""
    if not levers:
        raise InputError("--lever: give at least one lever, e.g. --lever containment.zoning.sealed_release_days=7:21")
    paths = [lever.path for lever in levers]
    if len(set(paths)) != len(paths):
        twice = next(path for path in paths if paths.count(path) > 1)
        raise InputError(f"--lever {twice}: given twice; give each field one range")
    for lever in levers:
        if lever.path in ("seed", "population.size", "duration_days"):
            raise InputError(f"--lever {lever.text}: {lever.path} is not a policy lever; set it with --set or its "
                             "own option")
        for value in lever.values_to_check():
            try:
                apply_levers(scenario, {lever.path: value})
            except ScenarioError as error:
                message = str(error)
                hint = _suggestion(scenario, lever.path) if "unknown field" in message or "no list item" in message \
                    else ""
                raise InputError(f"--lever {lever.text}: {message}" + (f" ({hint.strip()})" if hint else "")) from None
        if lever.kind != "choice":
            present = current_value(scenario, lever.path)
            if isinstance(present, bool) or (present is not None and not isinstance(present, (int, float))):
                raise InputError(f"--lever {lever.text}: {lever.path} is not a number ({present!r}); give its "
                                 f"choices instead, e.g. {lever.path}=a,b")


# -- objectives ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Objective:
    key: str
    source: str
    label: str
    unit: str


def objective_catalogue() -> dict[str, Objective]:
    """Every total an objective may name: the summary's headline totals and the ledger's additive totals."""
    catalogue = {total.key: Objective(total.key, total.key, total.label, total.unit) for total in SUMMARY_TOTALS}
    for total in LEDGER_TOTALS:
        if not total.parameter and not total.key.endswith(("_by_sector", "_by_worker_type")):
            catalogue.setdefault(total.key, Objective(total.key, f"ledger.{total.key}", total.label, total.unit))
    return catalogue


def parse_objectives(text: str | Sequence[str]) -> list[Objective]:
    """``"infections,confined_person_days"`` -> objectives (minimised); one-line InputError for an unknown one."""
    items = [item.strip() for item in (text.split(",") if isinstance(text, str) else text) if item.strip()]
    catalogue = objective_catalogue()
    if len(items) < 2:
        raise InputError("--objectives: a frontier needs two or more objectives, e.g. "
                         "--objectives infections,confined_person_days")
    for item in items:
        if item not in catalogue:
            near = difflib.get_close_matches(item, list(catalogue), n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            raise InputError(f"--objectives: unknown total '{item}'; {hint}use summary totals such as infections, "
                             "deaths or ledger totals such as confined_person_days, income_lost_cny")
    if len(set(items)) != len(items):
        raise InputError("--objectives: an objective is given twice; name each once")
    return [catalogue[item] for item in items]


# -- the non-dominated set and the radial factor ---------------------------------------------------------
def non_dominated(values: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the rows of ``values`` (n, k), all minimised, that no other row dominates; of
    rows with equal values only the first is kept. Rows with a NaN are never kept."""
    values = np.asarray(values, dtype=np.float64)
    keep = []
    for i in range(values.shape[0]):
        row = values[i]
        if np.isnan(row).any():
            continue
        dominated = False
        for j in range(values.shape[0]):
            if j == i or np.isnan(values[j]).any():
                continue
            other = values[j]
            if (np.all(other <= row) and np.any(other < row)) or (np.array_equal(other, row) and j < i):
                dominated = True
                break
        if not dominated:
            keep.append(i)
    return np.array(keep, dtype=np.int64)


def radial_factor(actual: np.ndarray, frontier: np.ndarray) -> tuple[float, int | None]:
    """(t, row): the smallest t with ``frontier[row] <= t * actual`` in every objective (:data:`INSIDE_DEFINITION`);
    (inf, None) when no frontier point can reach it (an objective where the actual policy is 0 and a point is not)."""
    actual = np.asarray(actual, dtype=np.float64)
    best, row = math.inf, None
    for k, point in enumerate(np.asarray(frontier, dtype=np.float64)):
        ratios = []
        for f, a in zip(point, actual):
            if a > 0:
                ratios.append(f / a)
            else:
                ratios.append(0.0 if f <= a else math.inf)
        t = max(ratios) if ratios else math.inf
        if t < best:
            best, row = t, k
    return best, row


# -- running ------------------------------------------------------------------------------------------
@dataclass
class FrontierResult:
    """What a frontier search produced."""

    levers: list[Lever]
    objectives: list[Objective]
    trials: pd.DataFrame
    frontier: pd.DataFrame
    actual: dict
    factor: float
    closest: str | None
    seeds: list[int]
    failures: list[dict] = field(default_factory=list)
    out_dir: Path | None = None
    points: list[Path] = field(default_factory=list)


def _optuna():
    try:
        import optuna
    except ImportError:
        raise MissingDependencyError("frontier: optuna is not installed; install it with "
                                     "pip install 'zerosim[frontier]' (make install does)") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def _distributions(optuna, levers: Sequence[Lever]) -> dict:
    made = {}
    for lever in levers:
        if lever.kind == "int":
            made[lever.path] = optuna.distributions.IntDistribution(int(lever.low), int(lever.high))
        elif lever.kind == "float":
            made[lever.path] = optuna.distributions.FloatDistribution(float(lever.low), float(lever.high))
        else:
            made[lever.path] = optuna.distributions.CategoricalDistribution(list(lever.choices))
    return made


def run_frontier(
    scenario: Scenario,
    levers: Sequence[Lever | str],
    objectives: Sequence[str] | str,
    *,
    trials: int = 24,
    seeds: int = 1,
    batch: int | None = None,
    seed: int = 1,
    scheduler: str | None = None,
    workers: int = 2,
    out: Path | None = None,
    force: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> FrontierResult:
    """Search ``levers`` for the non-dominated set of ``objectives`` (all minimised) of ``scenario``.

    Parameters
    ----------
    scenario : a validated city scenario
    levers : :class:`Lever` or their text (``path=lo:hi``, ``path=a,b,c``)
    objectives : names of totals (:func:`objective_catalogue`), two or more
    trials : trials in all; ``batch`` trials are asked at once (one NSGA-II generation; default
        ``max(4, min(16, trials // 3))``) and run as ``batch * seeds`` Dask tasks
    seeds : replicates every trial runs (seeds ``replicate_seed(scenario.seed, r)``: the same in every trial)
    seed : the sampler's seed (the same seed and inputs give the same trials and the same frontier)
    scheduler, workers, out, force, on_start(tasks), on_done(done, total) : as :func:`run_attribution`

    Raises
    ------
    InputError, ScenarioError, OutputDirError, MissingDependencyError
        Before any work: a bad lever, objective, option or --out, or optuna missing.
    """
    from zerosim.experiments.ensemble import check_memory
    from zerosim.experiments.tasks import check_cluster_options, dask_client, run_tasks, run_totals

    if not isinstance(scenario, Scenario):
        raise InputError("frontier: a region scenario is not supported; give a city scenario")
    levers = [lever if isinstance(lever, Lever) else parse_lever(lever) for lever in levers]
    check_levers(scenario, levers)
    wanted = parse_objectives(objectives)
    if not isinstance(trials, int) or not 2 <= trials <= 100_000:
        raise InputError(f"--trials: must be 2 to 100000, got {trials}; e.g. --trials 24")
    if not isinstance(seeds, int) or not 1 <= seeds <= 1000:
        raise InputError(f"--seeds: must be 1 to 1000 replicates, got {seeds}; e.g. --seeds 1")
    batch = batch if batch is not None else max(4, min(16, trials // 3))
    if not 2 <= batch <= 1000:
        raise InputError(f"--batch: must be 2 to 1000 trials per generation, got {batch}; e.g. --batch 8")
    if not isinstance(seed, int) or seed < 0:
        raise InputError(f"--seed: must be a whole number >= 0, got {seed}")
    scheduler = check_cluster_options(scheduler, workers)
    optuna = _optuna()
    check_memory(scenario.population.size, 1 if scheduler else workers)
    if out is not None:
        out = prepare_out_dir(out, force, files=FRONTIER_FILES, holds="a frontier", clear=True)

    distributions = _distributions(optuna, levers)
    sampler = optuna.samplers.NSGAIISampler(population_size=batch, seed=seed)
    study = optuna.create_study(directions=["minimize"] * len(wanted), sampler=sampler)
    seed_list = [replicate_seed(scenario.seed, r) for r in range(seeds)]
    rows, failures = [], []
    lock = exclusive(out) if out is not None else _Nothing()
    total_tasks = (trials + 1) * seeds
    with lock:
        with dask_client(scheduler, workers) as client:
            if on_start:
                on_start(total_tasks)
            done_before = 0

            def progress(done: int, _total: int) -> None:
                if on_done:
                    on_done(done_before + done, total_tasks)

            # The actual policy: the scenario as it is, with the same seeds.
            base = scenario.model_dump(mode="json")
            results, task_failures = run_tasks(client, run_totals, [(base, {}, s) for s in seed_list],
                                               [f"zerosim-frontier-{scenario.name}-actual-{s}" for s in seed_list],
                                               on_done=progress)
            done_before += len(seed_list)
            actual = {"id": "actual", **{lever.path: current_value(scenario, lever.path) for lever in levers},
                      **_means(wanted, results)}
            for failure in task_failures:
                failures.append({"trial": "actual", "seed": seed_list[failure["index"]], "error": failure["error"]})
            remaining = trials
            while remaining > 0:
                asked = [study.ask(distributions) for _ in range(min(batch, remaining))]
                remaining -= len(asked)
                calls, keys, owner = [], [], []
                refused = {}
                for trial in asked:
                    try:
                        data = apply_levers(scenario, trial.params).model_dump(mode="json")
                    except ScenarioError as error:
                        refused[trial.number] = str(error)
                        continue
                    for s in seed_list:
                        calls.append((data, {}, s))
                        keys.append(f"zerosim-frontier-{scenario.name}-{trial.number}-{s}")
                        owner.append(trial.number)
                results, task_failures = run_tasks(client, run_totals, calls, keys, on_done=progress)
                done_before += len(calls) + len(refused) * len(seed_list)
                progress(0, total_tasks)
                failed_trials = {owner[f["index"]]: f["error"] for f in task_failures}
                for trial in asked:  # told in trial order: reproducible whatever order the tasks finished in
                    mine = [result for result, number in zip(results, owner) if number == trial.number]
                    error = refused.get(trial.number) or failed_trials.get(trial.number)
                    row = {"trial": trial.number, "id": f"t{trial.number:04d}",
                           **{lever.path: trial.params[lever.path] for lever in levers}}
                    if error is None:
                        means = _means(wanted, mine)
                        study.tell(trial, [means[o.key] for o in wanted])
                        row.update(means)
                        row["state"] = "complete"
                    else:
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                        row.update({o.key: math.nan for o in wanted})
                        row["state"] = "failed"
                        failures.append({"trial": trial.number, "error": error})
                    rows.append(row)
    trial_frame = pd.DataFrame(rows)
    keys = [o.key for o in wanted]
    keep = non_dominated(trial_frame[keys].to_numpy(dtype=float)) if len(trial_frame) else np.array([], dtype=int)
    trial_frame["on_frontier"] = False
    if len(keep):
        trial_frame.loc[keep, "on_frontier"] = True
    frontier = trial_frame.iloc[keep].drop(columns=["on_frontier", "state"]).reset_index(drop=True)
    factor, row = (radial_factor(np.array([actual[k] for k in keys], dtype=float), frontier[keys].to_numpy(dtype=float))
                   if len(frontier) and all(actual.get(k) is not None and math.isfinite(actual[k]) for k in keys)
                   else (math.nan, None))
    closest = str(frontier["id"].iloc[row]) if row is not None else None
    result = FrontierResult(levers, wanted, trial_frame, frontier, actual, factor, closest, seed_list, failures, out)
    if out is not None:
        with exclusive(out):
            write_frontier(result, scenario, out, trials=trials, batch=batch, sampler_seed=seed)
    return result


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _means(wanted: Sequence[Objective], results: Sequence[dict | None]) -> dict[str, float]:
    good = [result for result in results if result is not None]
    if not good or len(good) != len(results):
        return {o.key: math.nan for o in wanted}
    return {o.key: float(np.mean([result.get(o.source, math.nan) for result in good])) for o in wanted}


def describe(result: FrontierResult) -> list[str]:
    """The closing sentences: the set's size, the actual policy, and how far inside the frontier it sits."""
    from zerosim.numbers import words

    keys = [o.key for o in result.objectives]
    lines = [f"{len(result.frontier)} non-dominated points of {int((result.trials['state'] == 'complete').sum())} "
             f"trials ({len(result.failures)} failed)"]
    actual = ", ".join(f"{o.key} {words(result.actual.get(o.key))}" for o in result.objectives)
    lines.append(f"actual policy: {actual}")
    if result.closest is not None and math.isfinite(result.factor):
        point = result.frontier[result.frontier["id"] == result.closest].iloc[0]
        reached = ", ".join(f"{k} {words(point[k])}" for k in keys)
        if result.factor < 1:
            lines.append(f"the actual policy sits inside the frontier: point {result.closest} ({reached}) does at "
                         f"least {100 * (1 - result.factor):.0f} % better on every objective at once "
                         f"(radial factor {result.factor:.2f})")
        else:
            own = np.array([result.actual[k] for k in keys], dtype=float)
            better = [str(p["id"]) for _, p in result.frontier.iterrows()
                      if np.all(p[keys].to_numpy(dtype=float) <= own) and np.any(p[keys].to_numpy(dtype=float) < own)]
            weakly = (f"; {len(better)} point(s) dominate it (no worse on every objective, better on one), e.g. "
                      f"{better[0]}") if better else "; no point found dominates it"
            lines.append(f"no point found does better on every objective at once (radial factor "
                         f"{result.factor:.2f}, closest {result.closest}: {reached}){weakly}")
    return lines


def frontier_document(result: FrontierResult, scenario: Scenario, *, trials: int, batch: int, sampler_seed: int) -> dict:
    """What ``frontier.json`` holds."""
    from zerosim import __version__

    return {
        "kind": "frontier",
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "policy": scenario.policy,
        "population": scenario.population.size,
        "days": scenario.duration_days,
        "seed": scenario.seed,
        "seeds": result.seeds,
        "levers": [{"path": lever.path, "kind": lever.kind, "low": lever.low, "high": lever.high,
                    "choices": list(lever.choices), "text": lever.text} for lever in result.levers],
        "objectives": [{"key": o.key, "label": o.label, "unit": o.unit} for o in result.objectives],
        "trials": trials,
        "batch": batch,
        "sampler": "optuna NSGAIISampler",
        "sampler_seed": sampler_seed,
        "points": len(result.frontier),
        "actual": result.actual,
        "inside": {"definition": INSIDE_DEFINITION, "factor": result.factor, "closest": result.closest},
        "sentences": describe(result),
        "failures": result.failures,
        "zerosim_version": __version__,
    }


def write_frontier(result: FrontierResult, scenario: Scenario, out: Path, *, trials: int, batch: int,
                   sampler_seed: int) -> None:
    """Write ``points/<id>.yaml``, ``trials.parquet``, ``frontier.parquet`` and ``frontier.json`` (last),
    each atomically; earlier points' files are removed first."""
    from zerosim.experiments.attribution import finite

    folder = out / "points"
    try:
        folder.mkdir(exist_ok=True)
        for old in folder.glob("*.yaml"):
            old.unlink()
        for _, point in result.frontier.iterrows():
            values = {lever.path: _plain(point[lever.path]) for lever in result.levers}
            text = apply_levers(scenario, values).to_yaml()
            path = folder / f"{point['id']}.yaml"
            write_atomic(path, lambda target, text=text: target.write_text(text))
            result.points.append(path)
        for name, frame in (("trials.parquet", result.trials), ("frontier.parquet", result.frontier)):
            write_atomic(out / name, lambda target, frame=frame: _object_safe(frame).to_parquet(target, index=False))
        document = json.dumps(finite(frontier_document(result, scenario, trials=trials, batch=batch,
                                                       sampler_seed=sampler_seed)),
                              indent=2, allow_nan=False, default=_plain) + "\n"
        write_atomic(out / "frontier.json", lambda target: target.write_text(document))
    except OSError as error:
        raise OutputError(f"--out: writing the frontier to '{out}' failed "
                          f"({error.strerror or error.__class__.__name__}); check the disk") from None


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return value if isinstance(value, (int, float, str, bool)) or value is None else str(value)


def _object_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """Choice levers may mix types (1, "a"): such columns are written as text."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object and len({type(v) for v in frame[column]}) > 1:
            frame[column] = frame[column].map(str)
    return frame
