"""IO layer: compare finished runs -- what each policy averted and what it cost, side by side.

Layer ``io`` -- imports pandas and ``zerosim.errors`` only; never ``viz`` or ``cli``. It reads the
run directory contract (``summary.json`` and its ``ledger`` object), never a live simulation.

Usage::

    comparison = compare_runs([Path("results/none"), Path("results/dynamic")], baseline=0)
    comparison.table            # one row per measure: unit, one column per run, "diff <run>" columns
    comparison.per_averted      # extra cost per infection / death averted, per run and main cost
    comparison.warnings         # e.g. the runs used different seeds
    headline(comparison)        # one plain sentence
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zerosim.lazy import lazy_module

pd = lazy_module("pandas")  # imported when results are assembled, not during the daily loop

from zerosim.errors import InputError, OutputError, RunDirError
from zerosim.io.results import SUMMARY_TOTALS, load_summary
from zerosim.ledger.totals import LEDGER_TOTALS
from zerosim.numbers import money, words

#: Top-level summary measures compared, with their units, in table order (from :data:`SUMMARY_TOTALS`).
SUMMARY_MEASURES: dict[str, str] = {total.key: total.unit for total in SUMMARY_TOTALS}

#: Units of the ledger totals in summary.json, from the ledger's declaration (zerosim.ledger.totals); keys
#: not listed get a unit from their suffix.
LEDGER_UNITS: dict[str, str] = {total.key: total.unit for total in LEDGER_TOTALS}

#: Numbers in the ledger object that are parameters echoed for reference, not totals of the run.
LEDGER_PARAMETERS = frozenset(total.key for total in LEDGER_TOTALS if total.parameter)

#: The main costs given per infection and per death averted.
MAIN_COSTS = ("confined_person_days", "income_lost_cny", "food_shortfall_person_days", "testing_cny")

#: Keys every summary.json must hold for a comparison.
REQUIRED_KEYS = ("population", "days", "infections", "deaths")


@dataclass(frozen=True)
class Comparison:
    """Runs compared with a baseline run.

    Attributes
    ----------
    table : DataFrame indexed by ``measure``; column ``unit``, then one float column per run (named
        by :attr:`runs`), then for each non-baseline run a column ``diff <run>`` = run minus baseline.
        A measure a run did not report is NaN.
    per_averted : DataFrame, one row per (non-baseline run, main cost): ``run``, ``cost``, ``unit``,
        ``extra_cost`` (run minus baseline), ``infections_averted``, ``deaths_averted``,
        ``per_infection_averted`` and ``per_death_averted`` (extra cost / number averted; None when the
        run averted none, or the cost is missing). A negative value means the run averted harm *and* cost less.
    runs : column labels of the runs, in input order (scenario/policy, disambiguated).
    names : short names for sentences (the policy name when it is unique among the runs).
    baseline : index of the baseline run in :attr:`runs`.
    warnings : things the reader must know (different seeds, populations or lengths).
    summaries : the summary.json content of each run.
    sources : each run's directory, or None for an in-memory result.
    """

    table: pd.DataFrame
    per_averted: pd.DataFrame
    runs: tuple[str, ...]
    names: tuple[str, ...]
    baseline: int
    warnings: list[str] = field(default_factory=list)
    summaries: tuple[dict, ...] = ()
    sources: tuple[Path | None, ...] = ()

    @property
    def baseline_run(self) -> str:
        """Column label of the baseline run."""
        return self.runs[self.baseline]

    @property
    def differences(self) -> dict[str, str]:
        """Non-baseline run label -> its difference column in :attr:`table`."""
        return {run: difference_column(run) for i, run in enumerate(self.runs) if i != self.baseline}

    def value(self, measure: str, run: int | str) -> float | None:
        """One run's value of ``measure`` (None when it did not report it)."""
        label = self.runs[run] if isinstance(run, int) else run
        if measure not in self.table.index:
            return None
        value = self.table.at[measure, label]
        return None if pd.isna(value) else float(value)

    def difference(self, measure: str, run: int | str) -> float | None:
        """``measure`` of ``run`` minus the baseline's (None when either is missing)."""
        label = self.runs[run] if isinstance(run, int) else run
        if measure not in self.table.index:
            return None
        column = label if label == self.baseline_run else difference_column(label)
        value = self.table.at[measure, column]
        return None if pd.isna(value) else (0.0 if label == self.baseline_run else float(value))


def difference_column(run: str) -> str:
    """Name of the column holding ``run`` minus the baseline."""
    return f"diff {run}"


# -- reading ------------------------------------------------------------------------------------------
def _load_summary(item: Any, position: int) -> tuple[dict, Path | None]:
    """The summary of one run: a run directory (path) or an object with ``.summary`` (Results)."""
    if isinstance(item, (str, Path)):
        run_dir = Path(item)
        summary = load_summary(run_dir)
        source: Path | None = run_dir
    elif hasattr(item, "summary"):
        summary = item.summary
        out_dir = getattr(item, "out_dir", None)
        source = Path(out_dir) if out_dir is not None else None
    else:
        raise InputError(f"run {position + 1}: got {type(item).__name__}; give a run directory or a Results object")
    where = f"run directory '{source}'" if source is not None else f"run {position + 1}"
    if not isinstance(summary, dict):
        raise RunDirError(f"{where}: summary.json does not hold an object; re-run the scenario to rewrite it")
    missing = [key for key in REQUIRED_KEYS if not _is_number(summary.get(key))]
    if missing:
        raise RunDirError(f"{where}: summary.json has no numeric '{missing[0]}'; re-run the scenario with this zerosim version")
    return summary, source


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# -- measures -----------------------------------------------------------------------------------------
def _unit(key: str) -> str:
    if key in LEDGER_UNITS:
        return LEDGER_UNITS[key]
    base = key.split(".", 1)[0]
    if base in LEDGER_UNITS:
        return LEDGER_UNITS[base]
    for suffix, unit in (("_person_days", "person-days"), ("_store_days", "store-days"), ("_cny", "CNY"),
                         ("_hours", "hours"), ("_days", "days"), ("_deaths", "deaths"), ("_fraction", "fraction")):
        if base.endswith(suffix):
            return unit
    return "count"


def declared_measures(summaries: Iterable[dict]) -> dict[str, dict]:
    """Run totals the runs' components declared (summary.json ``measures`` with an aggregate): key -> its
    label, unit and component. A component from an installed package shows in comparisons through this."""
    declared: dict[str, dict] = {}
    for summary in summaries:
        catalogue = summary.get("measures")
        if not isinstance(catalogue, dict):
            continue
        for key, about in catalogue.items():
            if isinstance(about, dict) and about.get("aggregate") and about.get("table", "timeseries") == "timeseries" \
                    and key not in SUMMARY_MEASURES:
                declared.setdefault(str(key), {"label": str(about.get("label") or key),
                                               "unit": str(about.get("unit") or "count"),
                                               "component": str(about.get("component") or "")})
    return declared


def _measures(summary: dict) -> dict[str, float]:
    """Flat numeric measures of one summary, in table order (ledger dicts expanded as ``name.key``)."""
    values: dict[str, float] = {}
    for key in SUMMARY_MEASURES:
        if _is_number(summary.get(key)):
            values[key] = float(summary[key])
    for key in declared_measures([summary]):
        if _is_number(summary.get(key)):
            values[key] = float(summary[key])
    ledger = summary.get("ledger")
    if isinstance(ledger, dict):
        for key, value in ledger.items():
            if key in LEDGER_PARAMETERS:
                continue
            if _is_number(value):
                values[key] = float(value)
            elif isinstance(value, dict):
                for part, number in value.items():
                    if _is_number(number):
                        values[f"{key}.{part}"] = float(number)
    return values


def _labels(summaries: Sequence[dict]) -> tuple[list[str], list[str]]:
    """Column labels (scenario/policy, disambiguated) and short names for sentences."""
    scenarios = [str(s.get("scenario", "run")) for s in summaries]
    policies = [str(s.get("policy", "none")) + "".join(f"+{kind}" for kind in s.get("extensions") or [])
                for s in summaries]
    labels = [scenario if scenario == policy else f"{scenario}/{policy}" for scenario, policy in zip(scenarios, policies)]
    labels = _disambiguate(labels, summaries)
    names = _disambiguate(policies, summaries) if len(set(scenarios)) == 1 else labels
    return labels, names


def _disambiguate(labels: list[str], summaries: Sequence[dict]) -> list[str]:
    """Tell equal labels apart: by seed when that separates them, else by number (``#1``, ``#2``)."""
    result = list(labels)
    for label in {label for label in result if result.count(label) > 1}:
        positions = [i for i, other in enumerate(result) if other == label]
        seeds = [str(summaries[i].get("seed")) for i in positions]
        if len(set(seeds)) > 1:
            for i, seed in zip(positions, seeds):
                result[i] = f"{label} (seed {seed})"
    still = {label for label in result if result.count(label) > 1}
    seen: dict[str, int] = {}
    for i, label in enumerate(result):
        if label in still:
            seen[label] = seen.get(label, 0) + 1
            result[i] = f"{label} #{seen[label]}"
    return result


def _check(summaries: Sequence[dict], labels: Sequence[str]) -> list[str]:
    warnings = []
    for key, what in (("population", "population sizes"), ("days", "run lengths (days)")):
        values = [summary.get(key) for summary in summaries]
        if len(set(values)) > 1:
            listed = ", ".join(f"{label}: {value:,}" for label, value in zip(labels, values))
            warnings.append(f"different {what} ({listed}); totals and differences are not comparable")
    seeds = [summary.get("seed") for summary in summaries]
    if len(set(map(str, seeds))) > 1:
        listed = ", ".join(f"{label}: {seed}" for label, seed in zip(labels, seeds))
        warnings.append(f"different seeds ({listed}); differences include chance, not only the policy -- "
                        f"use one seed (common random numbers) or compare ensembles")
    if any(not isinstance(summary.get("ledger"), dict) or not summary["ledger"] for summary in summaries):
        without = [label for label, summary in zip(labels, summaries) if not summary.get("ledger")]
        warnings.append(f"no ledger totals in {', '.join(without)}; its cost rows are empty")
    return warnings


def compare_runs(results: Iterable[Any], baseline: int = 0, *, strict: bool = False) -> Comparison:
    """Compare runs with one of them, measure by measure.

    Parameters
    ----------
    results : run directories (``Path`` or ``str``) or ``Results`` objects (anything with ``.summary``), at least two
    baseline : index of the run the others are compared with (0 = the first)
    strict : raise OutputError when the runs differ in population size or days (default: a warning)

    Returns
    -------
    Comparison

    Raises
    ------
    OutputError
        A run directory is missing or its summary.json is unreadable or incomplete; or ``strict`` and the runs
        are not comparable.
    ZerosimError
        Fewer than two runs, or ``baseline`` out of range.
    """
    items = list(results)
    if len(items) < 2:
        raise InputError(f"compare: need at least two runs, got {len(items)}; give two or more run directories")
    if not -len(items) <= baseline < len(items):
        raise InputError(f"--baseline: {baseline} is not a run index; give 0 to {len(items) - 1}")
    baseline %= len(items)
    loaded = [_load_summary(item, i) for i, item in enumerate(items)]
    summaries = tuple(summary for summary, _ in loaded)
    sources = tuple(source for _, source in loaded)
    labels, names = _labels(summaries)
    warnings = _check(summaries, labels)
    if strict and any(w.startswith("different population") or w.startswith("different run lengths") for w in warnings):
        where = ", ".join(str(s) if s is not None else label for s, label in zip(sources, labels))
        raise RunDirError(f"compare: runs {where} differ in population size or days; re-run them with the same ones")

    measures = [_measures(summary) for summary in summaries]
    order: list[str] = []
    for values in measures:
        order += [key for key in values if key not in order]
    table = pd.DataFrame({label: [values.get(key, math.nan) for key in order] for label, values in zip(labels, measures)},
                         index=pd.Index(order, name="measure"), dtype=float)
    base = labels[baseline]
    for i, label in enumerate(labels):
        if i != baseline:
            table[difference_column(label)] = table[label] - table[base]
    declared = declared_measures(summaries)
    table.insert(0, "unit", [SUMMARY_MEASURES.get(key) or (declared[key]["unit"] if key in declared else _unit(key))
                             for key in order])

    return Comparison(
        table=table,
        per_averted=_per_averted(table, labels, baseline),
        runs=tuple(labels),
        names=tuple(names),
        baseline=baseline,
        warnings=warnings,
        summaries=summaries,
        sources=sources,
    )


def _per_averted(table: pd.DataFrame, labels: Sequence[str], baseline: int) -> pd.DataFrame:
    base = labels[baseline]

    def get(measure: str, label: str) -> float | None:
        if measure not in table.index or pd.isna(table.at[measure, label]):
            return None
        return float(table.at[measure, label])

    rows = []
    for i, label in enumerate(labels):
        if i == baseline:
            continue
        averted = {}
        for outcome in ("infections", "deaths"):
            run_value, base_value = get(outcome, label), get(outcome, base)
            averted[outcome] = None if run_value is None or base_value is None else base_value - run_value
        for cost in MAIN_COSTS:
            run_cost, base_cost = get(cost, label), get(cost, base)
            extra = None if run_cost is None or base_cost is None else run_cost - base_cost
            row = {"run": label, "cost": cost, "unit": LEDGER_UNITS.get(cost, _unit(cost)), "extra_cost": extra,
                   "infections_averted": averted["infections"], "deaths_averted": averted["deaths"]}
            for outcome, column in (("infections", "per_infection_averted"), ("deaths", "per_death_averted")):
                number = averted[outcome]
                row[column] = extra / number if extra is not None and number is not None and number > 0 else None
            rows.append(row)
    columns = ["run", "cost", "unit", "extra_cost", "infections_averted", "deaths_averted",
               "per_infection_averted", "per_death_averted"]
    frame = pd.DataFrame({column: pd.Series([row[column] for row in rows], dtype=object) for column in columns})
    return frame.set_index(["run", "cost"], drop=False)


# -- words ----------------------------------------------------------------------------------------------
def readable(value: float | None, unit: str = "") -> str:
    """A number as people read it: ``995,861``, ``12.3 million``, ``CNY 1.35 billion``, ``3.7``, ``12.5%``.

    Counts and money follow :mod:`zerosim.numbers` (the one format of every output); fractions are percentages.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "fraction":
        return f"{100 * value:.1f}%"
    return money(value) if unit == "CNY" else words(value)


def _count(value: float, singular: str, plural: str) -> str:
    return f"{readable(value)} {singular if round(value) == 1 and abs(value) >= 1 else plural}"


def _outcomes(averted_infections: float, averted_deaths: float) -> str:
    averted, worse = [], []
    for number, singular, plural in ((averted_infections, "infection", "infections"), (averted_deaths, "death", "deaths")):
        if number > 0:
            averted.append(_count(number, singular, plural))
        elif number < 0:
            worse.append(_count(-number, f"more {singular}", f"more {plural}"))
    if averted and worse:
        return f"averted {' and '.join(averted)} but had {' and '.join(worse)}"
    if averted:
        if len(averted) == 1:
            averted.append("no deaths" if averted_infections > 0 else "no infections")
        return f"averted {' and '.join(averted)}"
    if worse:
        return f"averted no infections or deaths and had {' and '.join(worse)}"
    return "averted no infections or deaths"


def _costs(comparison: Comparison, run: int) -> str:
    """The confinement and income clause, as totals when the baseline had none, else as differences."""
    label, base = comparison.runs[run], comparison.baseline_run
    confined, income = comparison.value("confined_person_days", label), comparison.value("income_lost_cny", label)
    base_confined = comparison.value("confined_person_days", base)
    base_income = comparison.value("income_lost_cny", base)
    if confined is None or income is None or base_confined is None or base_income is None:
        return ""
    if base_confined == 0 and base_income == 0:
        if confined == 0 and income == 0:
            return ", with nobody confined and no income lost"
        parts = [f"{readable(confined)} person-days confined" if confined else "nobody confined",
                 f"{readable(income, 'CNY')} in lost income" if income else "no income lost"]
        return f", at {' and '.join(parts)}"
    extra_confined, extra_income = confined - base_confined, income - base_income
    if extra_confined == 0 and extra_income == 0:
        return ", at the same person-days confined and income lost"
    parts = []
    if extra_confined > 0:
        parts.append(f"{readable(extra_confined)} more person-days confined")
    elif extra_confined < 0:
        parts.append(f"{readable(-extra_confined)} fewer person-days confined")
    else:
        parts.append("the same person-days confined")
    if extra_income > 0:
        parts.append(f"{readable(extra_income, 'CNY')} more in lost income")
    elif extra_income < 0:
        parts.append(f"{readable(-extra_income, 'CNY')} less in lost income")
    else:
        parts.append("the same income lost")
    word = "at" if extra_confined >= 0 and extra_income >= 0 else "with"
    return f", {word} {' and '.join(parts)}"


def headline(comparison: Comparison) -> str:
    """One plain sentence per non-baseline run: what it averted against the baseline and what it cost.

    e.g. ``dynamic-zero-2022 averted 995,861 infections and 3,301 deaths compared with none, at 12.3 million
    person-days confined and CNY 4.1 billion in lost income.``
    """
    base = comparison.names[comparison.baseline]
    sentences = []
    for i, name in enumerate(comparison.names):
        if i == comparison.baseline:
            continue
        label = comparison.runs[i]
        infections = -(comparison.difference("infections", label) or 0.0)
        deaths = -(comparison.difference("deaths", label) or 0.0)
        sentences.append(f"{name} {_outcomes(infections, deaths)} compared with {base}{_costs(comparison, i)}.")
    return " ".join(sentences)


def format_table(comparison: Comparison) -> pd.DataFrame:
    """:attr:`Comparison.table` as strings for printing (``readable`` numbers, signed differences)."""
    table = comparison.table
    out = pd.DataFrame(index=table.index)
    out["unit"] = table["unit"]
    for column in table.columns[1:]:
        signed = column.startswith("diff ")
        texts = []
        for measure, value in table[column].items():
            unit = table.at[measure, "unit"]
            if signed and unit == "fraction" and not pd.isna(value):
                text = f"{100 * value:+.1f} pp"  # a difference of shares is in percentage points
            else:
                text = readable(value, unit)
                if signed and not pd.isna(value) and value > 0:
                    text = "+" + text
            texts.append(text)
        out[column] = texts
    return out


def comparison_json(comparison: Comparison, written: Sequence[Path] = ()) -> dict:
    """The comparison as one JSON-ready object (what ``zerosim compare --json`` prints).

    ``measures`` maps each measure to its ``unit``, each run's ``values`` and each non-baseline run's
    ``differences`` from the baseline (null where a run did not report it); ``per_averted`` is
    :attr:`Comparison.per_averted` as records.
    """

    def number(value: Any) -> float | int | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        value = float(value)
        return int(value) if value.is_integer() else value

    table = comparison.table
    measures = {}
    for measure in table.index:
        measures[str(measure)] = {
            "unit": str(table.at[measure, "unit"]),
            "values": {run: number(table.at[measure, run]) for run in comparison.runs},
            "differences": {run: number(table.at[measure, column]) for run, column in comparison.differences.items()},
        }
    per_averted = [{key: number(value) if isinstance(value, float) else value for key, value in row.items()}
                   for row in comparison.per_averted.to_dict("records")]
    return {
        "headline": headline(comparison),
        "baseline": comparison.baseline_run,
        "runs": [{"label": label, "name": name, "source": str(source) if source is not None else None}
                 for label, name, source in zip(comparison.runs, comparison.names, comparison.sources)],
        "warnings": list(comparison.warnings),
        "measures": measures,
        "per_averted": per_averted,
        "written": [str(path) for path in written],
    }


#: What ``zerosim compare --out`` writes (never over an earlier comparison without ``force``).
COMPARISON_FILES = ("comparison.csv", "comparison_per_averted.csv", "comparison.json", "comparison.png")


def write_comparison(comparison: Comparison, out_dir: Path, force: bool = True) -> list[Path]:
    """Write ``comparison.csv``, ``comparison_per_averted.csv`` and ``comparison.json`` (runs, headline, warnings).

    With ``force=False``, a folder that already holds a comparison is refused (one line, exit 2).
    """
    from zerosim.io.results import prepare_out_dir, write_atomic

    out_dir = prepare_out_dir(out_dir, force, COMPARISON_FILES, "a comparison")
    try:
        paths = [out_dir / "comparison.csv", out_dir / "comparison_per_averted.csv", out_dir / "comparison.json"]
        write_atomic(paths[0], lambda path: comparison.table.to_csv(path))
        write_atomic(paths[1], lambda path: comparison.per_averted.to_csv(path, index=False))
        meta = {
            "headline": headline(comparison),
            "baseline": comparison.baseline_run,
            "runs": [{"label": label, "name": name, "source": str(source) if source is not None else None}
                     for label, name, source in zip(comparison.runs, comparison.names, comparison.sources)],
            "warnings": comparison.warnings,
        }
        write_atomic(paths[2], lambda path: path.write_text(json.dumps(meta, indent=2) + "\n"))
    except OSError as error:
        raise OutputError(f"--out: writing the comparison to '{out_dir}' failed ({error.strerror}); "
                          f"check disk space and permissions") from None
    return paths
