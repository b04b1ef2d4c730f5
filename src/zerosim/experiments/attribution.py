"""Experiments layer: what each containment part bought and what it cost -- Shapley values over parts.

``zerosim attribute`` runs a scenario with every subset of its containment parts switched off (the
*arms*), with the same seeds in every arm (common random numbers: each component's random stream is
keyed by its name, so an arm differs from another only by the parts it lacks), and splits the
difference between "all parts on" and "all parts off" among the parts by their Shapley values:

    phi_i = sum over S subset of N minus {i} of |S|! (n - |S| - 1)! / n! * (v(S + {i}) - v(S))

where v(S) is a measure (infections, deaths, a ledger total) of the run with the parts in S on and the
others off. The values of the parts add up to v(N) - v(empty) for every measure and seed (the
*efficiency* of the Shapley value); parts that play the same role get the same value; a part that
changes nothing gets zero. With up to :data:`EXACT_MAX_PARTS` parts all 2^n arms run (exact); beyond
that, or when asked, ``permutations`` random orders of the parts are walked and each part gets the mean
of its marginal contributions (each order also adds up to the total).

"Switched off" is one set of overrides per part (:data:`SWITCH_OFF`), laid over the scenario's
``containment`` and over every ``timeline`` step's ``containment``; docs/attribution.md says what each
means.

Outputs (``out``): ``attribution.parquet`` (part, measure, value, low, high, share, unit),
``arms.parquet`` (every arm's totals per seed), ``attribution.json`` (what ran, totals, sentences) and
the CLI's ``attribution_waterfall.png`` (viz layer).

Layer ``experiments`` -- imports ``api`` (inside tasks), ``io``, ``ledger.totals`` and the layers below;
never ``cli``.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from zerosim.engine.rng import replicate_seed
from zerosim.errors import InputError, OutputError
from zerosim.io.results import SUMMARY_TOTALS, exclusive, prepare_out_dir, write_atomic
from zerosim.io.scenario import Scenario, validate_mapping
from zerosim.ledger.totals import LEDGER_TOTALS

#: The containment parts of a scenario, in the daily order of the policy phase.
PARTS: tuple[str, ...] = ("testing", "isolation", "tracing", "zoning", "closures", "health_code")

#: What switching a part off means: overrides (dotted keys under ``containment``) laid over the scenario's
#: containment and over every timeline step's. Testing runs while it has campaigns, sector screening,
#: fever-clinic or antigen testing (``api._containment_parts``); with tracing on, the tests of people in
#: quarantine stay: they belong to tracing. The other parts have an ``enabled`` switch.
SWITCH_OFF: dict[str, dict[str, Any]] = {
    "testing": {"testing.campaigns": [], "testing.sector_screening": [],
                "testing.symptomatic_test_probability_per_day": 0.0,
                "testing.antigen_self_test_probability_per_day": 0.0},
    "isolation": {"isolation.enabled": False},
    "tracing": {"tracing.enabled": False},
    "zoning": {"zoning.enabled": False},
    "closures": {"closures.enabled": False},
    "health_code": {"health_code.enabled": False},
}

#: Each part in plain words (sentences, figures, the report).
PART_LABELS: dict[str, str] = {
    "testing": "mass testing",
    "isolation": "central isolation of cases",
    "tracing": "tracing and central quarantine",
    "zoning": "sealing of zones",
    "closures": "closures of workplaces and schools",
    "health_code": "the health code",
}

#: Parts up to which every subset runs (2^6 = 64 arms per seed); beyond, permutations are sampled.
EXACT_MAX_PARTS = 6
#: Files an attribution writes into its --out (``--force`` replaces these, and only these).
ATTRIBUTION_FILES = ("attribution.json", "attribution.parquet", "arms.parquet", "attribution_waterfall.png",
                     "failures.json")


@dataclass(frozen=True)
class Measure:
    """One attributed quantity: ``key`` names it in attribution.parquet, ``source`` is its column in the
    arms' totals; ``averted`` measures count what a part prevented (the arm's value with the part off
    minus on), the others what it cost (on minus off)."""

    key: str
    source: str
    label: str
    unit: str
    averted: bool = False


def _ledger(key: str) -> Measure:
    total = next(total for total in LEDGER_TOTALS if total.key == key)
    return Measure(key, f"ledger.{key}", total.label, total.unit)


_SUMMARY = {total.key: total for total in SUMMARY_TOTALS}
#: The attributed measures: what containment averted, and each main (additive) ledger line it cost.
MEASURES: tuple[Measure, ...] = (
    Measure("infections_averted", "infections", "Infections averted", _SUMMARY["infections"].unit, averted=True),
    Measure("deaths_averted", "deaths", "COVID deaths averted", _SUMMARY["deaths"].unit, averted=True),
    *(_ledger(key) for key in ("confined_person_days", "food_shortfall_person_days", "income_lost_cny",
                               "worker_days_lost", "store_days_closed", "testing_cny", "testing_queue_hours",
                               "excess_non_covid_deaths", "infections_in_facilities")),
)


# -- switching parts off ----------------------------------------------------------------------------
def parse_parts(text: str | Sequence[str]) -> tuple[str, ...]:
    """``"testing,zoning"`` -> ("testing", "zoning") in :data:`PARTS` order; one-line InputError for an
    unknown, repeated or missing part."""
    items = [item.strip() for item in (text.split(",") if isinstance(text, str) else text)]
    items = [item for item in items if item]
    if not items:
        raise InputError(f"--parts: give at least one part, e.g. --parts {','.join(PARTS)}")
    for item in items:
        if item not in PARTS:
            import difflib

            near = difflib.get_close_matches(item, PARTS, n=1)
            hint = f"did you mean {near[0]}? " if near else ""
            raise InputError(f"--parts: unknown part '{item}'; {hint}choose from {','.join(PARTS)}")
    if len(set(items)) != len(items):
        twice = next(item for item in items if items.count(item) > 1)
        raise InputError(f"--parts: '{twice}' is given twice; name each part once")
    return tuple(part for part in PARTS if part in items)


def _laid_over(containment: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A containment override mapping with ``overrides`` applied last (an earlier key of the same name moves
    to the end, so nothing set before can undo the switch)."""
    kept = {key: value for key, value in containment.items() if key not in overrides}
    return {**kept, **overrides}


def switch_off(scenario: Scenario | Mapping[str, Any], parts: Sequence[str]) -> Scenario:
    """A validated copy of ``scenario`` with ``parts`` switched off in its containment and in every
    timeline step's containment (:data:`SWITCH_OFF`)."""
    data = scenario.model_dump(mode="json") if isinstance(scenario, Scenario) else json.loads(json.dumps(scenario))
    overrides = {key: value for part in parts for key, value in SWITCH_OFF[part].items()}
    if overrides:
        data["containment"] = _laid_over(data.get("containment") or {}, overrides)
        for step in data.get("timeline") or []:
            step["containment"] = _laid_over(step.get("containment") or {}, overrides)
    return validate_mapping(data)


def arm_signature(scenario: Scenario) -> str:
    """What decides an arm's run besides the seed: its containment in every period (two arms with the same
    signature run the same simulation, e.g. when a switched-off part was off already)."""
    periods = [(day, config.model_dump(mode="json")) for day, config in scenario.resolved_periods()]
    return json.dumps(periods, sort_keys=True)


# -- Shapley values ---------------------------------------------------------------------------------
def shapley_weights(count: int) -> np.ndarray:
    """``w[s] = s! (n - s - 1)! / n!`` for coalitions of size s = 0 .. n-1 without the part (n = ``count``)."""
    return np.array([math.factorial(s) * math.factorial(count - s - 1) / math.factorial(count)
                     for s in range(count)])


def all_coalitions(parts: Sequence[str]) -> list[frozenset[str]]:
    """Every subset of ``parts`` (the parts *on*), smallest first."""
    return [frozenset(combo) for size in range(len(parts) + 1) for combo in itertools.combinations(parts, size)]


def shapley_exact(parts: Sequence[str], value: Callable[[frozenset[str]], np.ndarray]) -> dict[str, np.ndarray]:
    """Exact Shapley value of every part for the value function ``value(parts on) -> array`` (any shape:
    one number per seed and measure); sums over parts to ``value(all) - value(none)``."""
    parts = list(parts)
    weights = shapley_weights(len(parts))
    cache: dict[frozenset[str], np.ndarray] = {}

    def v(coalition: frozenset[str]) -> np.ndarray:
        if coalition not in cache:
            cache[coalition] = np.asarray(value(coalition), dtype=np.float64)
        return cache[coalition]

    result = {}
    for part in parts:
        others = [other for other in parts if other != part]
        terms = [weights[len(coalition)] * (v(coalition | {part}) - v(coalition)) for coalition in all_coalitions(others)]
        result[part] = np.sum(terms, axis=0)
    return result


def permutation_sample(parts: Sequence[str], count: int, seed: int) -> list[tuple[str, ...]]:
    """``count`` orders of ``parts`` drawn uniformly (Generator seeded with ``seed``)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5A1E,)))
    return [tuple(parts[k] for k in rng.permutation(len(parts))) for _ in range(count)]


def permutation_coalitions(orders: Sequence[Sequence[str]]) -> list[frozenset[str]]:
    """The coalitions (prefixes of each order) that sampled Shapley values need, without repeats."""
    seen: dict[frozenset[str], None] = {}
    for order in orders:
        for size in range(len(order) + 1):
            seen.setdefault(frozenset(order[:size]), None)
    return list(seen)


def shapley_sampled(orders: Sequence[Sequence[str]],
                    value: Callable[[frozenset[str]], np.ndarray]) -> dict[str, np.ndarray]:
    """Shapley values estimated from the orders ``orders``: each part's mean marginal contribution when it
    joins the parts before it. Each order's contributions add up to the total, so their mean does too."""
    sums: dict[str, np.ndarray] = {}
    for order in orders:
        previous = np.asarray(value(frozenset()), dtype=np.float64)
        for size, part in enumerate(order, start=1):
            current = np.asarray(value(frozenset(order[:size])), dtype=np.float64)
            sums[part] = sums.get(part, 0.0) + (current - previous)
            previous = current
    return {part: total / len(orders) for part, total in sums.items()}


# -- intervals ----------------------------------------------------------------------------------------
#: Two-sided 95 % quantiles of Student's t for 1 .. 30 degrees of freedom.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145,
         2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048,
         2.045, 2.042)


def t_quantile_975(degrees: int) -> float:
    """Student's t 97.5 % quantile: the table to 30 degrees of freedom, Cornish-Fisher's expansion beyond."""
    if degrees < 1:
        return math.nan
    if degrees <= len(_T975):
        return _T975[degrees - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * degrees) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * degrees**2)


def mean_interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean over seeds and its 95 % t-interval (``low = high = mean`` with one seed: no spread is known)."""
    values = np.asarray(values, dtype=np.float64)
    mean = float(values.mean())
    if values.size < 2:
        return mean, mean, mean
    half = t_quantile_975(values.size - 1) * float(values.std(ddof=1)) / math.sqrt(values.size)
    return mean, mean - half, mean + half


# -- running ----------------------------------------------------------------------------------------
@dataclass
class AttributionResult:
    """What an attribution produced."""

    parts: tuple[str, ...]
    seeds: list[int]
    method: str                   # "exact" or "sampled"
    table: pd.DataFrame           # attribution.parquet
    arms: pd.DataFrame            # arms.parquet
    totals: dict[str, dict]       # measure -> {value, low, high, all_on, all_off}
    per_seed: dict[str, dict]     # measure -> part -> [value per seed]
    sentences: list[str]
    failures: list[dict] = field(default_factory=list)
    permutations: int | None = None
    out_dir: Path | None = None


def arm_name(on: frozenset[str], parts: Sequence[str]) -> str:
    """``"testing+zoning"`` (the parts on), ``"none"`` or ``"all"``."""
    if not on:
        return "none"
    if set(on) == set(parts):
        return "all"
    return "+".join(part for part in parts if part in on)


def run_attribution(
    scenario: Scenario,
    parts: Sequence[str],
    *,
    seeds: int = 2,
    permutations: int | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    out: Path | None = None,
    force: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> AttributionResult:
    """Attribute ``scenario``'s effects and costs to its containment ``parts`` (Shapley values over parts).

    Parameters
    ----------
    scenario : a validated city scenario (not a region)
    parts : parts of :data:`PARTS` to attribute to; the other parts stay as the scenario has them in every arm
    seeds : replicates; replicate r runs every arm with seed ``replicate_seed(scenario.seed, r)``
    permutations : sample this many orders of the parts instead of running every subset (the default is
        exact up to :data:`EXACT_MAX_PARTS` parts and 2 * parts orders beyond)
    scheduler, workers : an existing Dask scheduler's address, or the LocalCluster's worker processes
    out : directory for the outputs (checked before any work); ``force`` replaces an attribution there
    on_start(tasks), on_done(done, total) : progress callbacks (after every input is checked; per task)

    Raises
    ------
    InputError, ScenarioError, OutputDirError
        A bad option, part or scenario, or an unusable ``out``, before any task starts.
    """
    from zerosim.experiments.ensemble import check_memory
    from zerosim.experiments.tasks import check_cluster_options, dask_client, run_tasks, run_totals

    if not isinstance(scenario, Scenario):
        raise InputError("attribute: a region scenario has no single containment to attribute; give a city scenario")
    parts = parse_parts(parts)
    if not isinstance(seeds, int) or not 1 <= seeds <= 1000:
        raise InputError(f"--seeds: must be 1 to 1000 replicates, got {seeds}; e.g. --seeds 2")
    if permutations is not None and not 1 <= permutations <= 10_000:
        raise InputError(f"--permutations: must be 1 to 10000 orders, got {permutations}; e.g. --permutations 20")
    scheduler = check_cluster_options(scheduler, workers)
    if permutations is None and len(parts) > EXACT_MAX_PARTS:
        permutations = 2 * len(parts)
    method = "exact" if permutations is None else "sampled"
    orders = permutation_sample(parts, permutations, scenario.seed) if permutations else []
    coalitions = all_coalitions(parts) if method == "exact" else permutation_coalitions(orders)
    arms: dict[frozenset[str], Scenario] = {}
    for on in coalitions:
        arms[on] = switch_off(scenario, [part for part in parts if part not in on])
    check_memory(scenario.population.size, 1 if scheduler else workers)
    if out is not None:
        out = prepare_out_dir(out, force, files=ATTRIBUTION_FILES, holds="an attribution", clear=True)

    # One run per distinct arm (arms that resolve to the same containment share it) and seed.
    signatures = {on: arm_signature(arm) for on, arm in arms.items()}
    distinct = list(dict.fromkeys(signatures.values()))
    data_of = {signatures[on]: arms[on].model_dump(mode="json") for on in arms}
    seed_list = [replicate_seed(scenario.seed, r) for r in range(seeds)]
    calls = [(data_of[signature], {}, seed) for signature in distinct for seed in seed_list]
    keys = [f"zerosim-attribute-{scenario.name}-{k}-{seed}" for k in range(len(distinct)) for seed in seed_list]
    lock = exclusive(out) if out is not None else _nothing()
    with lock:
        with dask_client(scheduler, workers) as client:
            if on_start:
                on_start(len(calls))
            results, task_failures = run_tasks(client, run_totals, calls, keys, on_done=on_done)
        index_of = {(signature, seed): k for k, (signature, seed) in
                    enumerate((signature, seed) for signature in distinct for seed in seed_list)}
        failures = []
        for failure in task_failures:
            signature, seed = distinct[failure["index"] // len(seed_list)], seed_list[failure["index"] % len(seed_list)]
            names = [arm_name(on, parts) for on in arms if signatures[on] == signature]
            failures.append({"arms": names, "seed": seed, **{k: v for k, v in failure.items() if k != "index"}})
        good_seeds = [seed for seed in seed_list
                      if all(results[index_of[(signatures[on], seed)]] is not None for on in arms)]
        arms_frame = _arms_frame(arms, signatures, parts, seed_list, results, index_of)
        result = _attribute(scenario, parts, method, orders, arms, signatures, good_seeds, results, index_of,
                            arms_frame, failures)
        result.out_dir = out
        if out is not None:
            write_attribution(result, scenario, out)
    return result


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _arms_frame(arms, signatures, parts, seed_list, results, index_of) -> pd.DataFrame:
    rows = []
    for on in arms:
        for replicate, seed in enumerate(seed_list):
            totals = results[index_of[(signatures[on], seed)]]
            row = {"arm": arm_name(on, parts), "parts_on": len(on), "replicate": replicate, "seed": seed,
                   **{f"{part}_on": part in on for part in parts}, "succeeded": totals is not None}
            for measure in MEASURES:
                row[measure.source] = (totals or {}).get(measure.source, math.nan)
            for key in ("cases_detected", "peak_sealed_population", "runtime_seconds"):
                row[key] = (totals or {}).get(key, math.nan)
            rows.append(row)
    return pd.DataFrame(rows)


def _attribute(scenario, parts, method, orders, arms, signatures, good_seeds, results, index_of, arms_frame,
               failures) -> AttributionResult:
    def value(on: frozenset[str]) -> np.ndarray:
        """(seeds, measures): each measure signed so that a positive value is what the parts on bought
        (averted measures) or cost."""
        out = np.empty((len(good_seeds), len(MEASURES)))
        for s, seed in enumerate(good_seeds):
            totals = results[index_of[(signatures[on], seed)]]
            for m, measure in enumerate(MEASURES):
                raw = float(totals.get(measure.source, 0.0))
                out[s, m] = -raw if measure.averted else raw
        return out

    rows, totals, per_seed = [], {}, {}
    if good_seeds:
        shapley = shapley_exact(parts, value) if method == "exact" else shapley_sampled(orders, value)
        all_on, all_off = value(frozenset(parts)), value(frozenset())
        total = all_on - all_off                       # (seeds, measures)
        for m, measure in enumerate(MEASURES):
            mean_total, low_total, high_total = mean_interval(total[:, m])
            sign = -1.0 if measure.averted else 1.0
            totals[measure.key] = {
                "label": measure.label, "unit": measure.unit, "value": mean_total, "low": low_total, "high": high_total,
                "all_on": float(sign * all_on[:, m].mean()), "all_off": float(sign * all_off[:, m].mean()),
                "per_seed": total[:, m].tolist(),
            }
            per_seed[measure.key] = {}
            for part in parts:
                values = shapley[part][:, m]
                mean, low, high = mean_interval(values)
                share = mean / mean_total if mean_total != 0 else math.nan
                rows.append({"part": part, "measure": measure.key, "value": mean, "low": low, "high": high,
                             "share": share, "unit": measure.unit})
                per_seed[measure.key][part] = values.tolist()
    table = pd.DataFrame(rows, columns=["part", "measure", "value", "low", "high", "share", "unit"])
    result = AttributionResult(tuple(parts), [int(seed) for seed in good_seeds], method, table, arms_frame, totals,
                               per_seed, [], failures, len(orders) or None)
    result.sentences = sentences(result)
    return result


def _percent(share: float) -> str:
    if share is None or not math.isfinite(share):
        return "n/a"
    return f"{100 * share:.0f} %"


def sentences(result: AttributionResult) -> list[str]:
    """One sentence per part: the share of the infections averted and of the person-days confined, e.g.
    ``tracing and central quarantine averted 31 % of the infections averted and cost 12 % of the person-days
    confined``."""
    from zerosim.numbers import words

    if result.table.empty:
        return []
    frame = result.table.set_index(["part", "measure"])
    averted = result.totals["infections_averted"]["value"]
    confined = result.totals["confined_person_days"]["value"]
    lines = []
    for part in result.parts:
        label = PART_LABELS[part]
        infections = frame.loc[(part, "infections_averted")]
        days = frame.loc[(part, "confined_person_days")]
        if averted > 0:
            verb = "averted" if infections["value"] >= 0 else "offset"
            first = f"{label} {verb} {_percent(abs(infections['share']))} of the infections averted"
        else:
            first = (f"{label} changed infections by {words(-infections['value'])} (containment averted none "
                     f"on average)")
        if confined > 0:
            verb = "cost" if days["value"] >= 0 else "saved"
            second = f"{verb} {_percent(abs(days['share']))} of the person-days confined"
        else:
            second = f"changed the person-days confined by {words(days['value'])}"
        lines.append(f"{first} and {second}")
    return lines


# -- writing ------------------------------------------------------------------------------------------
def attribution_document(result: AttributionResult, scenario: Scenario) -> dict:
    """What ``attribution.json`` holds."""
    from zerosim import __version__

    return {
        "kind": "attribution",
        "scenario": scenario.name,
        "scenario_hash": scenario.digest(),
        "policy": scenario.policy,
        "population": scenario.population.size,
        "days": scenario.duration_days,
        "start_date": scenario.start_date.isoformat() if scenario.start_date else None,
        "seed": scenario.seed,
        "parts": list(result.parts),
        "part_labels": {part: PART_LABELS[part] for part in result.parts},
        "switch_off": {part: SWITCH_OFF[part] for part in result.parts},
        "method": result.method,
        "permutations": result.permutations,
        "arms": int(result.arms["arm"].nunique()) if len(result.arms) else 0,
        "seeds": result.seeds,
        "interval": "95 % t-interval of the mean over seeds (none with one seed)",
        "measures": [{"key": m.key, "label": m.label, "unit": m.unit, "averted": m.averted} for m in MEASURES],
        "totals": result.totals,
        "sentences": result.sentences,
        "failures": result.failures,
        "zerosim_version": __version__,
    }


def write_attribution(result: AttributionResult, scenario: Scenario, out: Path) -> None:
    """Write ``attribution.parquet``, ``arms.parquet``, ``failures.json`` and ``attribution.json`` (last: it
    marks a complete attribution), each atomically."""
    try:
        write_atomic(out / "attribution.parquet", lambda path: result.table.to_parquet(path, index=False))
        write_atomic(out / "arms.parquet", lambda path: result.arms.to_parquet(path, index=False))
        write_atomic(out / "failures.json", lambda path: path.write_text(json.dumps(result.failures, indent=2) + "\n"))
        document = json.dumps(finite(attribution_document(result, scenario)), indent=2, allow_nan=False,
                              default=_plain) + "\n"
        write_atomic(out / "attribution.json", lambda path: path.write_text(document))
    except OSError as error:
        raise OutputError(f"--out: writing the attribution to '{out}' failed "
                          f"({error.strerror or error.__class__.__name__}); check the disk") from None


def finite(value):
    """``value`` with every NaN or infinite float replaced by None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _plain(value):
    if isinstance(value, np.generic):
        return value.item()
    return str(value)
