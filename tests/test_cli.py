"""The CLI contract: outputs of `zerosim run`, and one-line errors (exit 2, no traceback) on bad input."""

from __future__ import annotations

import json
import os

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from zerosim.cli.app import app

SUMMARY_KEYS = ["scenario", "seed", "population", "days", "infections", "attack_rate", "deaths",
                "peak_infectious_day", "runtime_seconds"]
TIMESERIES_COLUMNS = ["day", "susceptible", "exposed", "infectious", "recovered", "dead", "new_infections", "new_deaths"]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def assert_one_line_error(result, *fragments: str, code: int = 2) -> None:
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_run_writes_the_contract(tmp_path):
    out = tmp_path / "demo"
    result = invoke("run", "demo", "--population", "20000", "--days", "20", "--seed", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    for key in SUMMARY_KEYS:
        assert key in summary
    assert summary["population"] == 20000 and summary["days"] == 20 and summary["seed"] == 2
    columns = pq.read_schema(out / "timeseries.parquet").names
    assert set(TIMESERIES_COLUMNS) <= set(columns)
    assert pq.read_table(out / "timeseries.parquet").num_rows == 20
    assert (out / "by_district.parquet").exists() and (out / "scenario.yaml").exists()
    assert (out / "epidemic_curve.png").stat().st_size > 10_000
    assert (out / "infections_by_district.png").stat().st_size > 10_000
    # the resolved scenario re-runs to the same result
    again = invoke("run", str(out / "scenario.yaml"), "--out", str(tmp_path / "again"), "--no-figures")
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "again" / "summary.json").read_text())["infections"] == summary["infections"]


def test_set_overrides_any_field(tmp_path):
    result = invoke("run", "well-mixed", "--population", "5000", "--days", "10", "--set", "transmission.r0=1.7",
                    "--set", "seeding.0.count=3", "--out", str(tmp_path / "o"), "--no-figures")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "o" / "scenario.yaml").read_text()
    assert "r0: 1.7" in text and "count: 3" in text


def test_scenarios_lists_builtins():
    result = invoke("scenarios")
    assert result.exit_code == 0
    assert "demo" in result.output and "well-mixed" in result.output


def test_validate_accepts_a_good_file(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text("extends: demo\npopulation:\n  size: 5000\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 0 and "ok:" in result.output


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("population: [1, 2\n", ["line", "YAML"]),
        ("populaton:\n  size: 100\n", ["populaton", "unknown field"]),
        ("population:\n  size: -5\n", ["population.size", ">= 100"]),
        ("transmission:\n  r0: 0\n", ["transmission.r0", "> 0"]),
        ("duration_days: 10\nseeding:\n  - day: 50\n", ["seeding.0.day", "seed earlier"]),
        ("disease:\n  variant: omicron_xbb\n", ["disease.variant", "omicron_ba2"]),
        ("disease:\n  overrides:\n    asymptomatic_fraction: 1.5\n", ["asymptomatic_fraction"]),
        ("- just\n- a list\n", ["mapping"]),
    ],
)
def test_bad_scenarios_give_one_line_errors(tmp_path, text, fragments):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert_one_line_error(invoke("validate", str(path)), *fragments)
    assert_one_line_error(invoke("run", str(path), "--out", str(tmp_path / "out")), *fragments)
    assert not (tmp_path / "out" / "summary.json").exists()


def test_bad_overrides(tmp_path):
    out = str(tmp_path / "o")
    assert_one_line_error(invoke("run", "well-mixed", "--set", "transmission.r0=-1", "--out", out), "transmission.r0")
    assert_one_line_error(invoke("run", "demo", "--days", "0", "--out", out), "duration_days")
    assert_one_line_error(invoke("run", "demo", "--set", "noequals", "--out", out), "dotted.path=value")
    assert_one_line_error(invoke("run", "demo", "--set", "seeding.5.day=1", "--out", out), "seeding.5")


def test_missing_file(tmp_path):
    assert_one_line_error(invoke("run", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")), "missing.yaml",
                          "neither a file nor a built-in")


def test_population_too_big_for_memory(tmp_path):
    result = invoke("run", "demo", "--population", "1900000000", "--out", str(tmp_path / "o"))
    assert_one_line_error(result, "population.size", "--population")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere; covered by the file-as-directory case")
def test_unwritable_out_dir(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert_one_line_error(invoke("run", "demo", "--population", "1000", "--out", str(locked / "o")), "--out")


def test_out_dir_under_a_file_cannot_be_written(tmp_path):
    (tmp_path / "file").write_text("x")
    assert_one_line_error(invoke("run", "demo", "--population", "1000", "--out", str(tmp_path / "file" / "o")),
                          "--out", "cannot write")


def test_out_dir_that_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("not a directory")
    assert_one_line_error(invoke("run", "demo", "--population", "1000", "--out", str(target)), "--out", "is a file")


def test_existing_results_are_not_overwritten_without_force(tmp_path):
    out = tmp_path / "o"
    assert invoke("run", "demo", "--population", "2000", "--days", "5", "--out", str(out), "--no-figures").exit_code == 0
    before = (out / "summary.json").read_bytes()
    result = invoke("run", "demo", "--population", "3000", "--days", "5", "--out", str(out), "--no-figures")
    assert_one_line_error(result, "--force", "already holds results")
    assert (out / "summary.json").read_bytes() == before
    forced = invoke("run", "demo", "--population", "3000", "--days", "5", "--out", str(out), "--no-figures", "--force")
    assert forced.exit_code == 0
    assert json.loads((out / "summary.json").read_text())["population"] == 3000


def test_compare_two_policies_from_the_readme(tmp_path):
    out = tmp_path / "cmp"
    result = invoke("compare", "demo", "--policy", "none", "--policy", "dynamic-zero-2022", "--population", "20000",
                    "--days", "30", "--seed", "2", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "averted" in result.stdout and "person-days confined" in result.stdout
    assert "income_lost_cny" in result.stdout
    assert (out / "comparison.png").stat().st_size > 10_000
    assert (out / "none" / "summary.json").exists() and (out / "dynamic-zero-2022" / "ledger.parquet").exists()
    again = invoke("compare", str(out / "none"), str(out / "dynamic-zero-2022"))
    assert again.exit_code == 0 and "averted" in again.stdout


def test_compare_errors_are_one_line(tmp_path):
    assert_one_line_error(invoke("compare", str(tmp_path / "nope"), str(tmp_path / "nada")), "nope", code=2)


def test_run_with_a_baseline_adds_cost_per_averted(tmp_path):
    base = tmp_path / "none"
    assert invoke("run", "demo", "--population", "20000", "--days", "30", "--out", str(base), "--no-figures").exit_code == 0
    out = tmp_path / "dz"
    result = invoke("run", "demo", "--population", "20000", "--days", "30", "--set", "policy=dynamic-zero-2022",
                    "--baseline", str(base), "--out", str(out), "--no-figures")
    assert result.exit_code == 0, result.output
    per = json.loads((out / "summary.json").read_text())["ledger"]["per_averted"]
    confined = per["confined_person_days"]
    assert confined["infections_averted"] > 0
    assert abs(confined["per_infection_averted"] * confined["infections_averted"] - confined["extra_cost"]) < 1e-6 * confined["extra_cost"]
    assert_one_line_error(invoke("run", "demo", "--baseline", str(tmp_path / "nothing"), "--out", str(tmp_path / "x")),
                          "--baseline", code=2)
