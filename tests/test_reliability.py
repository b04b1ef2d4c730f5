"""Issue 15: every bad input gets one line and exit 2 (the README's exit codes), never a traceback,
and nothing is left behind or lost. Each case of the issue is a test here (cases 8 and 9; the
checkpoint cases are in test_checkpoint.py)."""

from __future__ import annotations

import re

import json
import os
import shutil

import pytest
from typer.testing import CliRunner

from zerosim.cli.app import app, main

LONG = "n" * 300


def invoke(*args: str):
    return CliRunner().invoke(app, [str(arg) for arg in args])


def assert_one_line(result, *fragments: str, code: int = 2) -> str:
    """Exit ``code``, exactly one line on stderr starting 'error: ', no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if len(lines) > 1 and re.match(r"^\d+ problems in ", lines[-1]):  # `validate` lists every problem (issue 18)
        lines = lines[:1]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


def main_cli(argv, capsys) -> tuple[int, str]:
    """The console script in-process (it also turns usage errors into one line)."""
    with pytest.raises(SystemExit) as info:
        main(list(argv))
    return info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "base"
    result = invoke("run", "demo", "-n", "2000", "-d", "5", "--out", out, "--no-figures", "-q")
    assert result.exit_code == 0, result.output
    return out


# -- case 8: tracebacks instead of one line ----------------------------------------------------------
def test_an_impossible_date_in_a_file_or_with_set(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("extends: well-mixed\nstart_date: 2022-02-30\n")
    assert_one_line(invoke("validate", path), "start_date")
    assert_one_line(invoke("run", path, "-n", "1000", "-d", "3", "--out", tmp_path / "o1"), "start_date")
    assert_one_line(invoke("run", "well-mixed", "-n", "1000", "-d", "3", "--set", "start_date=2022-02-30",
                           "--out", tmp_path / "o2"), "start_date")
    assert not (tmp_path / "o1").exists() and not (tmp_path / "o2").exists()


def test_names_and_paths_too_long_for_a_file_system(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(f"extends: well-mixed\nname: {LONG}\n")
    assert_one_line(invoke("validate", path), "name")
    assert_one_line(invoke("run", "well-mixed", "-n", "1000", "-d", "3", "--out", tmp_path / LONG), "--out", "255")
    assert_one_line(invoke("validate", tmp_path / f"{LONG}.yaml"), "scenario", "255")
    assert_one_line(invoke("report", tmp_path / LONG), "report")
    assert_one_line(invoke("ensemble", "well-mixed", "-n", "200", "-d", "3", "--runs", "1", "--out", tmp_path / LONG),
                    "--out")
    assert not any(tmp_path.iterdir()) or sorted(p.name for p in tmp_path.iterdir()) == ["s.yaml"]


def test_a_tiny_building_size_is_refused_and_leaves_nothing(tmp_path):
    out = tmp_path / "o"
    assert_one_line(invoke("run", "well-mixed", "-n", "1000", "-d", "3", "--set",
                           "population.building_households_mean=1e-300", "--out", out),
                    "population.building_households_mean")
    assert not out.exists()


@pytest.fixture
def no_server(monkeypatch):
    """A check that lets a bad value through fails the test instead of serving forever."""
    import zerosim.dashboard.app

    def refuse(*args, **kwargs):
        raise AssertionError("the dashboard would have started")

    monkeypatch.setattr(zerosim.dashboard.app, "serve", refuse)


@pytest.fixture
def no_cluster(monkeypatch):
    """A check that lets a bad value through fails the test instead of starting (or hanging in) Dask."""
    import dask.distributed

    def refuse(*args, **kwargs):
        raise AssertionError("a Dask cluster would have started")

    monkeypatch.setattr(dask.distributed, "LocalCluster", refuse)
    monkeypatch.setattr(dask.distributed, "Client", refuse)


@pytest.mark.parametrize("port", ["-1", "0", "70000"])
def test_serve_refuses_a_port_out_of_range(no_server, port):
    assert_one_line(invoke("serve", "--port", port), "--port")


def test_serve_refuses_a_host_that_is_not_loopback(no_server):
    assert_one_line(invoke("serve", "--host", "0.0.0.0"), "--host")


@pytest.mark.parametrize("address", ["not a url", "tcp://", "http://host:99999", "tcp://host:123456"])
def test_ensemble_refuses_a_scheduler_address(no_cluster, tmp_path, address):
    out = tmp_path / "e"
    assert_one_line(invoke("ensemble", "well-mixed", "-n", "200", "-d", "3", "--runs", "1", "--scheduler", address,
                           "--out", out), "--scheduler")
    assert not out.exists()


def test_ensemble_refuses_an_out_that_is_a_file(tmp_path):
    out = tmp_path / "file"
    out.write_text("mine")
    assert_one_line(invoke("ensemble", "well-mixed", "-n", "200", "-d", "3", "--runs", "1", "--out", out),
                    "--out", "is a file")
    assert out.read_text() == "mine"


@pytest.mark.parametrize("key,value", [("infections", "many"), ("population", "lots"), ("attack_rate", [1]),
                                       ("scenario", 5), ("ledger.confined_person_days", "x")])
def test_report_refuses_a_summary_with_a_wrong_type(small_run, tmp_path, key, value):
    run = shutil.copytree(small_run, tmp_path / "run")
    summary = json.loads((run / "summary.json").read_text())
    if "." in key:
        section, field = key.split(".")
        summary[section][field] = value
    else:
        summary[key] = value
    (run / "summary.json").write_text(json.dumps(summary))
    assert_one_line(invoke("report", run, "--out", tmp_path / "r.html"), key)
    assert not (tmp_path / "r.html").exists()


def test_a_report_of_an_intact_run_still_works(small_run, tmp_path):
    result = invoke("report", small_run, "--out", tmp_path / "r.html")
    assert result.exit_code == 0, result.output


# -- case 9: exit codes as the README says ------------------------------------------------------------
def test_resume_of_a_missing_folder_is_bad_input(tmp_path):
    assert_one_line(invoke("run", "--resume", tmp_path / "missing"), "--resume")


def test_compare_with_one_folder_is_bad_input(small_run):
    assert_one_line(invoke("compare", small_run), "compare", "two")


def test_an_empty_out_is_refused_and_writes_nothing(tmp_path):
    before = sorted(os.listdir())
    assert_one_line(invoke("run", "well-mixed", "-n", "1000", "-d", "3", "--out", ""), "--out", "empty")
    assert_one_line(invoke("ensemble", "well-mixed", "-n", "200", "-d", "3", "--runs", "1", "--out", ""), "--out")
    assert_one_line(invoke("compare", "a", "b", "--out", ""), "--out")
    assert sorted(os.listdir()) == before


def test_a_refused_checkpoint_interval_leaves_no_folder(tmp_path):
    out = tmp_path / "o"
    assert_one_line(invoke("run", "well-mixed", "-n", "1000", "-d", "3", "--checkpoint-every", "0", "--out", out),
                    "--checkpoint-every")
    assert not out.exists()


def test_set_values_in_exponent_form_are_numbers(tmp_path):
    from zerosim.io.scenario import load_scenario, parse_set

    assert parse_set("transmission.r0=1e-300") == ("transmission.r0", 1e-300)
    assert parse_set("a=2E5") == ("a", 2e5) and parse_set("a=-3e2") == ("a", -300.0)
    assert parse_set("name=x1e5") == ("name", "x1e5")
    scenario = load_scenario("well-mixed", {"containment": {"testing.symptomatic_test_probability_per_day": parse_set(
        "x=1e-3")[1]}})
    assert scenario.containment["testing.symptomatic_test_probability_per_day"] == 0.001
    named = load_scenario("well-mixed", {"name": parse_set("name=1e5")[1]})
    assert named.name == "100000.0"
    # a string that reads as a number is quoted in scenario.yaml, so the file re-runs to the same scenario
    path = tmp_path / "s.yaml"
    path.write_text(load_scenario("well-mixed", {"description": "1e5"}).to_yaml())
    assert load_scenario(path).description == "1e5"


def test_workers_zero_is_refused_at_once(no_cluster, tmp_path):
    """Case 7: `ensemble --workers 0` hung for minutes; now one line and exit 2 before anything starts."""
    out = tmp_path / "e"
    assert_one_line(invoke("ensemble", "demo", "-n", "200", "-d", "3", "--runs", "1", "--workers", "0",
                           "--out", out), "--workers")
    assert not out.exists()


@pytest.mark.parametrize("argv,fragment", [
    (["run", "--population", "abc"], "--population"),
    (["run", "--bogus"], "--bogus"),
    (["nosuchcommand"], "nosuchcommand"),
    (["serve", "--port", "x"], "--port"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, fragment):
    code, err = main_cli(argv, capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], err


def test_the_readme_table_lists_every_exit_code():
    from pathlib import Path

    from zerosim import errors

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    codes = {cls.exit_code for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, Exception)
             and hasattr(cls, "exit_code")}
    for code in codes | {0, 130}:
        assert f"| {code} |" in readme, f"exit code {code} is not in the README's table"


# -- case 4: YAML bombs and extends loops -------------------------------------------------------------
def alias_bomb(levels: int, fan: int = 10) -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * fan) + "]"]
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * fan) + "]")
    return "\n".join(lines)


@pytest.mark.parametrize("levels", [3, 5])
def test_an_alias_bomb_is_refused_quickly_in_one_short_line(tmp_path, levels):
    import time

    path = tmp_path / "bomb.yaml"
    path.write_text(f"extends: well-mixed\n{alias_bomb(levels)}\nname: *a{levels}\n")
    started = time.perf_counter()
    result = invoke("run", path, "-n", "1000", "-d", "3", "--out", tmp_path / "o")
    line = assert_one_line(result, "bomb.yaml" if levels > 3 else "name")
    assert time.perf_counter() - started < 10 and len(line) < 400
    assert not (tmp_path / "o").exists()


def test_the_nine_level_bomb_of_the_issue_is_refused_before_it_is_built():
    from zerosim.errors import ScenarioError
    from zerosim.io.safe_yaml import load_yaml

    with pytest.raises(ScenarioError, match="expands to more than"):
        load_yaml(f"{alias_bomb(9)}\nname: *a9\n", "bomb.yaml")  # 10**10 values once expanded


def test_an_alias_bomb_in_set_is_refused(tmp_path):
    bomb = "{" + alias_bomb(6).replace("\n", ", ") + "}"
    assert_one_line(invoke("validate", "well-mixed", "--set", f"description={bomb}"), "--set description")


@pytest.mark.parametrize("text,fragment", [
    ("name: &a [*a]\n", "recursive alias"),
    ("name: " + "[" * 2000 + "]" * 2000 + "\n", "bomb.yaml"),
    ("name: " + "{a: " * 100 + "1" + "}" * 100 + "\n", "nested"),
    ("description: '" + "x" * 1_100_000 + "'\n", "bytes"),
])
def test_recursive_deep_or_huge_yaml_is_refused(tmp_path, text, fragment):
    path = tmp_path / "bomb.yaml"
    path.write_text("extends: well-mixed\n" + text)
    line = assert_one_line(invoke("validate", path), fragment)
    assert len(line) < 400


def test_extends_cycles_are_found_by_real_path(tmp_path, monkeypatch):
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (sub / "b.yaml").write_text("extends: ./a.yaml\nname: b\n")
    (sub / "c.yaml").write_text("extends: ../sub/c.yaml\n")
    assert_one_line(invoke("validate", sub / "a.yaml"), "extends", "a.yaml -> b.yaml -> a.yaml")
    assert_one_line(invoke("validate", sub / "c.yaml"), "extends", "c.yaml -> c.yaml")
    monkeypatch.chdir(tmp_path)
    assert_one_line(invoke("validate", "./sub/b.yaml"), "extends")
    assert_one_line(invoke("validate", "sub/../sub/a.yaml"), "extends")
    # a chain without a cycle still works, relative to each file
    (sub / "d.yaml").write_text("extends: well-mixed\nname: d\n")
    (tmp_path / "e.yaml").write_text("extends: sub/d.yaml\nseed: 4\n")
    assert invoke("validate", "e.yaml").exit_code == 0


def test_region_extends_cycles_are_found(tmp_path):
    (tmp_path / "r1.yaml").write_text("extends: ./r2.yaml\nkind: region\n")
    (tmp_path / "r2.yaml").write_text(f"extends: ../{tmp_path.name}/r1.yaml\nkind: region\n")
    from zerosim.errors import ScenarioError
    from zerosim.region.config import _raw

    with pytest.raises(ScenarioError, match="r1.yaml -> r2.yaml -> r1.yaml"):
        _raw(str(tmp_path / "r1.yaml"))


# -- case 6: silently wrong ---------------------------------------------------------------------------
@pytest.mark.parametrize("assignment,field", [
    ("transmission.layers.household.contacts_per_day=.inf", "transmission.layers.household.contacts_per_day"),
    ("transmission.r0=.nan", "transmission.r0"),
    ("transmission.r0=-.inf", "transmission.r0"),
    ("containment.testing.symptomatic_test_probability_per_day=.nan", "symptomatic_test_probability_per_day"),
    ("ledger.food.stock_days_mean=.inf", "ledger.food.stock_days_mean"),
    ("behaviour.base_compliance=.nan", "behaviour.base_compliance"),
    ("disease.overrides.incubation.mean_days=.inf", "incubation.mean_days"),
    ("population.building_households_sd=.inf", "population.building_households_sd"),
    ("seeding.0.per_100k=.nan", "seeding.0.per_100k"),
])
def test_non_finite_numbers_are_refused_naming_the_field(tmp_path, assignment, field):
    out = tmp_path / "o"
    line = assert_one_line(invoke("run", "well-mixed", "-n", "1000", "-d", "3", "--set", assignment, "--out", out),
                           field)
    assert "finite" in line
    assert not out.exists()


def test_non_finite_numbers_in_a_file_are_refused(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("extends: well-mixed\ntransmission:\n  layers:\n    household:\n      contacts_per_day: .inf\n")
    assert_one_line(invoke("validate", path), "transmission.layers.household.contacts_per_day", "finite")


def test_every_config_model_refuses_inf_and_nan():
    import importlib
    import pkgutil

    from pydantic import BaseModel

    import zerosim

    for module in pkgutil.walk_packages(zerosim.__path__, "zerosim."):
        if module.name.startswith(("zerosim.dashboard.app", "zerosim.experiments.calibrate")):
            continue
        importlib.import_module(module.name)
    models = [cls for cls in _subclasses(BaseModel) if cls.__module__.startswith("zerosim.")]
    assert len(models) > 15
    for model in models:
        assert model.model_config.get("allow_inf_nan") is False, model


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_seeding_more_people_than_the_city_is_refused():
    assert_one_line(invoke("validate", "well-mixed", "--set", "population.size=2000", "--set",
                           "seeding.0.count=1000000000"), "seeding.0.count", "2,000")
    assert invoke("validate", "well-mixed", "--set", "population.size=2000", "--set",
                  "seeding.0.count=2000").exit_code == 0


def test_a_region_population_beyond_its_cities_is_refused(tmp_path):
    out = tmp_path / "r"
    assert_one_line(invoke("run", "diverted-train", "--population", "1500000000", "--out", out),
                    "population_total", "33,996,072")
    assert not out.exists()


# -- cases 2 and 3: exclusive, atomic results; readers refuse mixed folders ---------------------------
def _run(out, *extra):
    return invoke("run", "demo", "-n", "3000", "-d", "6", "--seed", "2", "--out", out, "-q", *extra)


def test_a_locked_out_is_refused_at_once_and_left_alone(small_run, tmp_path):
    import fcntl

    from zerosim.io.results import LOCK_FILE

    out = shutil.copytree(small_run, tmp_path / "held")
    before = {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()}
    with open(out / LOCK_FILE, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another run writes there now
        assert_one_line(_run(out, "--force", "--no-figures"), "--out", str(out), "another zerosim run")
    assert {path.name: path.read_bytes() for path in out.iterdir() if path.is_file()} == before
    assert _run(out, "--force", "--no-figures").exit_code == 0  # released: the next run goes ahead


def test_force_removes_the_earlier_runs_files_and_only_those(tmp_path):
    out = tmp_path / "r"
    assert _run(out, "--set", "policy=dynamic-zero-2022").exit_code == 0
    assert (out / "testing_and_backlog.png").exists() and (out / "people_by_zone.png").exists()
    (out / "my-notes.txt").write_text("keep me")
    (out / ".summary.json.k1llx9.tmp").write_text("{")  # left by a run killed while writing
    assert _run(out, "--force").exit_code == 0  # no policy: no testing figure
    assert not list(out.glob(".*.tmp"))
    assert not (out / "testing_and_backlog.png").exists() and not (out / "people_by_zone.png").exists()
    assert (out / "my-notes.txt").read_text() == "keep me"
    assert json.loads((out / "summary.json").read_text())["policy"] == "none"


def test_run_figures_are_all_listed_for_force(tmp_path):
    import zerosim
    from zerosim.io.results import RUN_FIGURES

    written = zerosim.run("demo", overrides={"population.size": 3000, "duration_days": 6, "policy":
                                             "dynamic-zero-2022"}, out=tmp_path / "r")
    names = {path.name for path in written.figures}
    assert len(names) >= 8 and names <= set(RUN_FIGURES), names - set(RUN_FIGURES)


class _Killed(Exception):
    pass


def test_a_force_run_killed_midway_leaves_a_folder_readers_refuse(small_run, tmp_path):
    import zerosim

    out = shutil.copytree(small_run, tmp_path / "r")

    def die(day):
        if day == 2:
            raise _Killed

    with pytest.raises(_Killed):
        zerosim.run("well-mixed", overrides={"population.size": 2000, "duration_days": 5}, out=out, force=True,
                    on_day=die)
    assert not (out / "summary.json").exists()  # the earlier run's summary went first
    assert_one_line(invoke("report", out, "--out", tmp_path / "r.html"), "summary.json")
    assert_one_line(invoke("compare", out, small_run), "summary.json")


def test_readers_refuse_a_folder_whose_files_are_from_two_runs(small_run, tmp_path):
    out = shutil.copytree(small_run, tmp_path / "mixed")
    other = tmp_path / "other"
    assert invoke("run", "demo", "-n", "2000", "-d", "5", "--seed", "9", "--out", other, "-q",
                  "--no-figures").exit_code == 0
    shutil.copy(other / "scenario.yaml", out / "scenario.yaml")
    assert_one_line(invoke("report", out, "--out", tmp_path / "r.html"), "different runs")
    assert_one_line(invoke("compare", out, other), "different runs")
    assert not (tmp_path / "r.html").exists()


def test_report_never_replaces_a_runs_own_file_without_force(small_run, tmp_path):
    out = shutil.copytree(small_run, tmp_path / "r")
    summary = (out / "summary.json").read_bytes()
    for name in ("summary.json", "timeseries.parquet", "scenario.yaml"):
        assert_one_line(invoke("report", out, "--out", out / name), "--out", "--force")
    assert (out / "summary.json").read_bytes() == summary
    assert invoke("report", out).exit_code == 0 and invoke("report", out).exit_code == 0  # its report.html: again
    assert invoke("report", out, "--out", tmp_path / "x.json", "--force").exit_code == 0


def test_compare_out_honours_force(small_run, tmp_path):
    other = tmp_path / "other"
    assert invoke("run", "demo", "-n", "2000", "-d", "5", "--seed", "9", "--out", other, "-q",
                  "--no-figures").exit_code == 0
    out = tmp_path / "cmp"
    assert invoke("compare", small_run, other, "--out", out).exit_code == 0
    first = (out / "comparison.json").read_bytes()
    assert_one_line(invoke("compare", small_run, other, "--out", out), "--out", "comparison", "--force")
    assert (out / "comparison.json").read_bytes() == first
    assert invoke("compare", small_run, other, "--out", out, "--force").exit_code == 0


def test_two_force_runs_into_one_folder_leave_one_whole_run(tmp_path):
    """Case 2: two `--force` runs at once into one folder: one may be refused (exit 2), and what stays is
    one complete run whose files belong together."""
    import subprocess
    import sys

    import pyarrow.parquet as pq

    import zerosim

    out = tmp_path / "fr1"
    from pathlib import Path

    script = Path(sys.executable).parent / "zerosim"
    command = [str(script), "run", "demo", "-n", "4000", "-d", "6", "--force", "--quiet",
               "--no-figures", "--out", str(out)]
    first = subprocess.Popen(command + ["--seed", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    second = subprocess.Popen(command + ["--seed", "2", "--set", "policy=dynamic-zero-2022"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    outcomes = [(process.wait(timeout=300), process.stderr.read()) for process in (first, second)]
    assert all(code in (0, 2) for code, _ in outcomes), outcomes
    assert any(code == 0 for code, _ in outcomes)
    for code, err in outcomes:
        if code == 2:
            assert "another zerosim run" in err and len(err.strip().splitlines()) == 1, err
    results = zerosim.read_results(out)
    assert results.summary["scenario_hash"] == results.scenario.digest()
    for name in ("timeseries.parquet", "by_district.parquet", "ledger.parquet"):
        pq.read_table(out / name)
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*.tmp"))
    assert invoke("report", out, "--out", tmp_path / "r.html").exit_code == 0


# -- the fault test: kill -9 at random points; every reader sees a complete run or refuses -----------
def _kill_rounds(tmp_path, delays, checkpoint):
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    import zerosim
    from zerosim.io.checkpoint import CHECKPOINT_INDEX

    script = Path(sys.executable).parent / "zerosim"
    out = tmp_path / "killed"
    assert invoke("run", "demo", "-n", "3000", "-d", "8", "--seed", "1", "--out", out, "-q").exit_code == 0
    outcomes = []
    for round_, delay in enumerate(delays):
        command = [str(script), "run", "demo", "-n", "8000", "-d", "20", "--seed", str(round_ + 2), "--force",
                   "--quiet", "--out", str(out)] + (["--checkpoint-every", "3"] if checkpoint else [])
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=60)
        report = invoke("report", out, "--out", tmp_path / "r.html", "--force")
        assert report.exit_code in (0, 2) and "Traceback" not in report.output, report.output
        if report.exit_code == 0:  # a reader that accepts the folder sees one complete run
            results = zerosim.read_results(out)
            assert results.summary["scenario_hash"] == results.scenario.digest()
        else:
            assert len([line for line in report.stderr.splitlines() if line.strip()]) == 1
        resumed = None
        if (out / CHECKPOINT_INDEX).exists():
            resumed = invoke("run", "--resume", out, "-q")
            assert resumed.exit_code == 0, resumed.output
            assert invoke("report", out, "--out", tmp_path / "r.html", "--force").exit_code == 0
        outcomes.append((delay, report.exit_code, resumed is not None))
    return outcomes


def test_kill_9_at_random_points_leaves_a_complete_run_or_a_refusal(tmp_path):
    import random

    rng = random.Random(15)
    outcomes = _kill_rounds(tmp_path, [d + rng.uniform(-0.2, 0.2) for d in (1.4, 1.8, 2.2, 2.8)], checkpoint=True)
    assert len(outcomes) == 4


@pytest.mark.slow
@pytest.mark.parametrize("checkpoint", [False, True])
def test_kill_9_many_times(tmp_path, checkpoint):
    import random

    rng = random.Random(1515)
    _kill_rounds(tmp_path, [rng.uniform(0.2, 8.0) for _ in range(12)], checkpoint)


def test_read_results_refuses_a_mixed_folder_too(small_run, tmp_path):
    import zerosim

    out = shutil.copytree(small_run, tmp_path / "mixed")
    text = (out / "scenario.yaml").read_text()
    (out / "scenario.yaml").write_text(text.replace("seed: 1\n", "seed: 77\n", 1))
    assert text != (out / "scenario.yaml").read_text()
    with pytest.raises(zerosim.RunDirError, match="different runs"):
        zerosim.read_results(out)
    assert zerosim.read_results(small_run).summary["scenario_hash"] == zerosim.read_results(small_run).scenario.digest()
