"""Exact regression baseline: a few small runs, their output tables hashed and compared bit for bit.

Statistical oracles (tests/test_analytic.py) catch a wrong model; this catches an *accidental* change:
a refactor that was meant to leave results alone but moved a random draw, reordered a step or
changed a column. The hashes live in ``tests/baselines/baselines.json`` and are rewritten only on
purpose, in a commit of their own that says why results changed::

    make baselines          # or: .venv/bin/python -m tests.test_baselines --update

Floats are hashed as their exact bits: results do not depend on the Numba thread count (checked
when the baselines are written, see :func:`main`), so no rounding is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BASELINE_FILE = Path(__file__).parent / "baselines" / "baselines.json"
UPDATE_COMMAND = "make baselines  (or: .venv/bin/python -m tests.test_baselines --update)"

#: name -> (built-in scenario, overrides). Small (<= 40,000 people) and short, but each exercises a
#: different part of the model: homogeneous SEIR; a layered city without containment; every policy
#: component plus Compliance; a dated timeline switching containment on mid-run.
CASES: dict[str, tuple[str, dict]] = {
    "well-mixed": ("well-mixed", {"population.size": 20_000, "duration_days": 60}),
    "demo-none": ("demo", {"population.size": 30_000, "duration_days": 40, "seeding.0.count": 100}),
    "demo-dynamic-zero": ("demo", {"population.size": 30_000, "duration_days": 40, "seeding.0.count": 200,
                                   "policy": "dynamic-zero-2022", "behaviour.enabled": True}),
    "shijiazhuang-timeline": ("shijiazhuang-2021", {"population.size": 40_000, "duration_days": 50,
                                                    "seeding.0.per_100k": 50}),
}

#: Output tables hashed (the attributes of :class:`zerosim.io.results.Results`).
TABLES = ("timeseries", "by_district", "by_age_band", "ledger", "events", "pressure", "confinement_days")

#: summary.json keys left out: timings and memory. Only numbers are hashed (at any depth, by dotted
#: key), so versions, paths, the scenario digest, labels and notes -- text, not results -- are out too.
SUMMARY_EXCLUDED = frozenset({
    "runtime_seconds", "build_seconds", "simulation_seconds", "state_bytes_per_agent", "schema_bytes_per_agent",
})


def table_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a table: column names, kinds and exact values, in order (index ignored)."""
    digest = hashlib.sha256()
    digest.update(str(len(frame)).encode())
    for name in frame.columns:
        values = frame[name].to_numpy()
        if values.dtype.kind in "biuf":
            kind = f"{values.dtype.kind}{values.dtype.itemsize}"
            data = np.ascontiguousarray(values).tobytes()
        else:  # text, categories, dates: their printed form
            kind = "text"
            data = "\x1f".join(map(str, values.tolist())).encode()
        digest.update(f"\x1e{name}\x1d{kind}\x1d".encode())
        digest.update(data)
    return digest.hexdigest()


def summary_numbers(summary: dict) -> dict:
    """Every number of ``summary`` by dotted key (``ledger.income_lost_cny``), timings and memory left out."""
    numbers: dict = {}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(f"{prefix}.{index}", item)
        elif value is None or isinstance(value, (bool, int, float)):
            numbers[prefix] = value

    walk("", {key: value for key, value in summary.items() if key not in SUMMARY_EXCLUDED})
    return numbers


def fingerprint(case: str) -> dict:
    """Run ``case`` in memory and describe its outputs: a hash per table and of the summary."""
    import zerosim

    scenario, overrides = CASES[case]
    results = zerosim.run(scenario, overrides=overrides, figures=False)
    tables = {}
    for name in TABLES:
        frame = getattr(results, name)
        tables[name] = {"rows": len(frame), "columns": len(frame.columns), "sha256": table_digest(frame)}
    numbers = summary_numbers(results.summary)
    return {
        "scenario": scenario,
        "overrides": overrides,
        "tables": tables,
        "summary_sha256": hashlib.sha256(json.dumps(numbers, sort_keys=True).encode()).hexdigest(),
        # readable, for the failure message and the diff of an update commit
        "headline": {key: numbers[key] for key in ("infections", "deaths", "cases_detected", "tests_swabbed",
                                                   "peak_sealed_population")},
    }


def _load() -> dict:
    return json.loads(BASELINE_FILE.read_text())


@pytest.mark.parametrize("case", sorted(CASES))
def test_outputs_match_the_baseline(case):
    expected = _load()["cases"].get(case)
    assert expected is not None, f"no baseline for {case!r}; write it on purpose with: {UPDATE_COMMAND}"
    got = fingerprint(case)
    changed = [name for name in TABLES if got["tables"][name] != expected["tables"].get(name)]
    if got["summary_sha256"] != expected["summary_sha256"]:
        changed.append("summary.json")
    assert not changed, (
        f"{case}: {', '.join(changed)} differ from tests/baselines/baselines.json "
        f"(headline now {got['headline']}, was {expected['headline']}); if the change is intended, "
        f"rewrite the baselines in a commit that says why: {UPDATE_COMMAND}"
    )


def test_every_case_has_a_baseline():
    assert sorted(_load()["cases"]) == sorted(CASES), f"cases and baselines differ; run: {UPDATE_COMMAND}"


def _fingerprints_with_threads(threads: str) -> dict:
    """All cases' fingerprints computed in a child process with ``threads`` Numba threads."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.test_baselines", "--print"],
        env={**os.environ, "NUMBA_NUM_THREADS": threads}, capture_output=True, text=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout)


def main(argv: list[str]) -> int:
    if argv == ["--print"]:
        print(json.dumps({case: fingerprint(case) for case in sorted(CASES)}))
        return 0
    if argv != ["--update"]:
        print(f"usage: python -m tests.test_baselines --update\n{__doc__}", file=sys.stderr)
        return 2
    one, two = _fingerprints_with_threads("1"), _fingerprints_with_threads("2")
    if one != two:
        differ = sorted(case for case in one if one[case] != two[case])
        print(f"error: results differ between 1 and 2 Numba threads in {differ}; fix that first", file=sys.stderr)
        return 1
    BASELINE_FILE.parent.mkdir(exist_ok=True)
    BASELINE_FILE.write_text(json.dumps({
        "about": "Exact hashes of small runs' outputs (tests/test_baselines.py); identical with 1 and 2 Numba "
                 "threads. Rewrite only on purpose, in a commit that says why results changed.",
        "update_command": UPDATE_COMMAND,
        "cases": one,
    }, indent=2) + "\n")
    print(f"wrote {BASELINE_FILE} ({len(one)} cases, identical with 1 and 2 Numba threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
