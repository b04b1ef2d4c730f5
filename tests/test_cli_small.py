"""Small things a new user meets first (issue 18, item 4): ``--version``, ``validate`` listing every
problem with the nearest valid name, and pyproject metadata without deprecated forms."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

import zerosim
from zerosim.cli.app import app

ROOT = Path(__file__).resolve().parents[1]


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_version():
    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip() == f"zerosim {zerosim.__version__}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["version"] == zerosim.__version__


def test_license_is_an_spdx_string():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"  # a table ({text = ...}) is deprecated by setuptools >= 77
    assert any(need.replace(" ", "").startswith("setuptools>=77") for need in pyproject["build-system"]["requires"])


def test_validate_lists_every_problem_with_the_nearest_name(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("extends: demo\ntransmision:\n  r0: 3\npopulation:\n  size: -5\n  sise: 100\nduration_days: 0\n"
                    "seeding:\n  - {day: 1, count: 3, distrct: Pudong}\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 5, lines
    expected = ["transmision: unknown field; did you mean `transmission`?",
                "population.sise: unknown field; did you mean `size`?",
                "seeding.0.distrct: unknown field; did you mean `district`?",
                "population.size: must be >= 100", "duration_days: must be >= 1"]
    for fragment in expected:
        assert sum(fragment in line for line in errors) == 1, (fragment, errors)
    assert lines[-1] == f"5 problems in {path}"
    # a run stops at its first problem, in one line, with the same hint
    run = invoke("run", str(tmp_path / "unknown.yaml"), "--out", str(tmp_path / "o"))
    assert run.exit_code == 2
    path.write_text("transmision:\n  r0: 3\n")
    run = invoke("run", str(path), "--out", str(tmp_path / "o"))
    assert run.exit_code == 2 and run.stderr.strip() == "error: transmision: unknown field; did you mean `transmission`?"


def test_an_unknown_name_with_nothing_near_lists_the_valid_ones(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("population:\n  zzzzzz: 1\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 2
    assert "population.zzzzzz: unknown field; remove it or use one of: " in result.stderr and "size" in result.stderr


def test_the_hint_knows_which_model_was_validated(tmp_path):
    region = tmp_path / "region.yaml"
    region.write_text("extends: diverted-train\ntravle: {}\nduration_days: 0\n")
    result = invoke("validate", str(region))  # a region file: every problem too, with the region's field names
    assert result.exit_code == 2 and "error: travle: unknown field; did you mean `travel`?" in result.stderr
    assert "error: duration_days: must be >= 1" in result.stderr and f"2 problems in {region}" in result.stderr
    nested = invoke("validate", "demo", "--set", "containment.zoning.window_dayz=3")
    assert nested.exit_code == 2
    assert "containment.zoning.window_dayz: unknown field; did you mean `window_days`?" in nested.stderr
