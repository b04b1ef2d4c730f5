"""Tables a new user reads at an 80-column terminal or through a pipe: no name or value is cut, and
``--json`` gives scripts the same content (issue 18, item 1)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from zerosim.cli._tables import Column, render
from zerosim.cli.app import app

TERMINAL_80 = {"COLUMNS": "80", "TTY_COMPATIBLE": "1", "NO_COLOR": "1"}  # a terminal 80 columns wide
PIPE_80 = {"COLUMNS": "80", "TTY_COMPATIBLE": "0"}  # stdout is not a terminal


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)  # bold and dim in a terminal


def _lines(result) -> list[str]:
    assert result.exit_code == 0, result.output
    return _plain(result.stdout).splitlines()


def _names() -> list[str]:
    from zerosim.io.scenario import builtin_names
    from zerosim.region.config import region_builtin_names

    return builtin_names() + region_builtin_names()


# -- the table layout ---------------------------------------------------------------------------------
def test_a_table_too_wide_is_split_not_cut():
    columns = [Column("measure")] + [Column(f"run {k}", "right") for k in range(4)]
    rows = [["confined_after_ten_negatives_person_days"] + ["CNY 1.35 billion"] * 4, ["deaths", "1", "2", "3", "4"]]
    blocks = render(columns, rows, width=80)
    assert len(blocks) == 2
    text = "\n".join("\n".join(block) for block in blocks)
    assert "…" not in text and text.count("CNY 1.35 billion") == 4
    assert all(len(line) <= 80 for block in blocks for line in block)
    assert all(block[2].startswith("confined_after_ten_negatives_person_days") for block in blocks)  # key repeated


def test_a_long_key_gets_its_own_line_rather_than_a_split():
    columns = [Column("measure")] + [Column(f"run {k}", "right") for k in range(2)]
    rows = [["x" * 70, "1,000", "2,000"], ["short", "3", "4"]]
    (block,) = render(columns, rows, width=80, min_key=20)
    assert block[2] == "x" * 70 and block[3].split() == ["1,000", "2,000"]
    assert all(len(line) <= 80 for line in block)


def test_only_a_cut_column_is_shortened():
    columns = [Column("name"), Column("description", cut=True)]
    (block,) = render(columns, [["shijiazhuang-2021", "word " * 40]], width=40)
    assert block[2].startswith("shijiazhuang-2021  word") and block[2].endswith("…") and len(block[2]) <= 40
    (plain,) = render(columns, [["shijiazhuang-2021", "word " * 40]], width=None)
    assert "…" not in plain[2]


# -- zerosim scenarios --------------------------------------------------------------------------------
@pytest.mark.parametrize("env", [TERMINAL_80, PIPE_80], ids=["terminal", "pipe"])
def test_scenarios_names_whole_at_80_columns(env):
    lines = _lines(invoke("scenarios", env=env))
    firsts = [line.split()[0] for line in lines if line.strip()]
    for name in _names():
        assert name in firsts, (name, lines)
    for line in lines:
        fields = line.split("  ")
        assert "…" not in "  ".join(fields[:-1]), line  # only the description may be cut
        if env is TERMINAL_80:
            assert len(line) <= 80, line
    if env is PIPE_80:
        assert not any("…" in line for line in lines) and not any("─" in line or "│" in line for line in lines)
        assert any("What does it do to Shijiazhuang?" in line for line in lines)  # whole, on one line


def test_scenarios_name_and_long_show_the_whole_description():
    from zerosim.io.scenario import load_scenario

    whole = " ".join(load_scenario("shijiazhuang-2021").description.split())
    one = invoke("scenarios", "shijiazhuang-2021", env=TERMINAL_80)
    assert one.exit_code == 0 and whole in " ".join(one.stdout.split())
    every = " ".join(invoke("scenarios", "--long", env=TERMINAL_80).stdout.split())
    assert whole in every and all(name in every for name in _names())
    wrong = invoke("scenarios", "shijiazhuang")
    assert wrong.exit_code == 2 and "did you mean `shijiazhuang-2021`" in wrong.stderr


def test_scenarios_json():
    entries = json.loads(invoke("scenarios", "--json").stdout)
    assert [entry["name"] for entry in entries] == _names()
    assert {"name", "kind", "people", "days", "variant", "description"} <= set(entries[0])
    one = json.loads(invoke("scenarios", "demo", "--json").stdout)
    assert one["name"] == "demo" and one["people"] > 0


# -- zerosim compare ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    result = invoke("compare", "demo", "--policy", "none", "--policy", "dynamic-zero-2022", "--population", "3000",
                    "--days", "25", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("env", [TERMINAL_80, PIPE_80], ids=["terminal", "pipe"])
def test_compare_is_readable_at_80_columns(compared, env):
    from zerosim.io.compare import compare_runs, format_table

    result = invoke("compare", str(compared / "none"), str(compared / "dynamic-zero-2022"), env=env)
    lines = _lines(result)
    text = _plain(result.stdout)
    assert "…" not in text
    table_lines = lines[:lines.index(next(line for line in lines if line.startswith("dynamic-zero-2022 averted")))]
    assert all(len(line) <= 80 for line in table_lines), [line for line in table_lines if len(line) > 80]
    table = format_table(compare_runs([compared / "none", compared / "dynamic-zero-2022"]))
    cells = [line.split("  ") for line in table_lines]
    shown = {cell.strip() for row in cells for cell in row if cell.strip()}
    for measure, row in table.iterrows():
        assert str(measure).rpartition(".")[2] in shown, measure
        for value in row.tolist()[1:]:
            assert value in shown, (measure, value)  # every value whole, in a cell of its own
    assert "none" in text and "dynamic-zero-2022" in text


def test_compare_json(compared):
    from zerosim.io.compare import compare_runs

    result = invoke("compare", str(compared / "none"), str(compared / "dynamic-zero-2022"), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    comparison = compare_runs([compared / "none", compared / "dynamic-zero-2022"])
    assert data["baseline"] == comparison.baseline_run and data["headline"].startswith("dynamic-zero-2022 averted")
    infections = data["measures"]["infections"]
    assert infections["unit"] == "people"
    assert infections["values"][comparison.runs[0]] == comparison.value("infections", 0)
    assert infections["differences"][comparison.runs[1]] == comparison.difference("infections", 1)
    assert {row["cost"] for row in data["per_averted"]} >= {"confined_person_days", "income_lost_cny"}


# -- a region run's table -----------------------------------------------------------------------------
def test_region_table_names_whole_at_80_columns(tmp_path):
    result = invoke("run", "diverted-train", "--days", "6", "--set", "cities.0.population_size=2000",
                    "--set", "cities.1.population_size=2000", "--set", "cities.2.population_size=2000",
                    "--no-figures", "--out", str(tmp_path / "train"), env=TERMINAL_80)
    lines = _lines(result)
    table = [line for line in lines if not line.startswith(("results:", "figure:", "note:", "diverted trips"))]
    assert "…" not in "\n".join(table)
    assert all(len(line) <= 80 for line in table), table
    for city in ("Lhasa", "Beijing", "Shijiazhuang"):
        assert sum(line.split()[0] == city for line in table if line.strip()) >= 1, city
    assert "stranded days" in result.stdout and "arrivals (infected)" in result.stdout


def test_a_split_table_with_long_keys_splits_into_fewer_tables():
    columns = [Column("measure")] + [Column(f"run {k}", "right") for k in range(4)]
    rows = [["confined_after_ten_negatives_person_days"] + ["CNY 1.35 billion"] * 4, ["deaths", "1", "2", "3", "4"]]
    assert len(render(columns, rows, width=80)) == 2
    blocks = render(columns, rows, width=60, min_key=20)
    assert len(blocks) == 2 and len(render(columns, rows, width=60)) == 4
    text = [line for block in blocks for line in block]
    assert all(len(line) <= 60 for line in text) and "…" not in "".join(text)
    assert text.count("confined_after_ten_negatives_person_days") == 2  # on its own line, in each table
