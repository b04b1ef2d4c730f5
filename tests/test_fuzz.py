"""Issue 15: fuzzed input. Hypothesis writes scenario files and ``--set`` values -- wrong types, inf and
nan, huge and negative numbers, unicode, deep nesting, YAML aliases and bombs -- and every one must
get exit 0 (it was valid after all) or exit 2 with one line on stderr and no traceback; a refused
``zerosim run --force`` leaves its ``--out`` exactly as it was. The CLI runs in-process and only
validates (``validate``, or ``run`` on input already known to be invalid), so nothing is simulated.

The default suite tries a few hundred inputs (about a minute); ``-m slow`` runs many more.
"""

from __future__ import annotations

import re

import math
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from typer.testing import CliRunner

from zerosim.cli.app import app
from zerosim.errors import ZerosimError
from zerosim.io.scenario import load_scenario, parse_set

#: Real dotted fields of the well-mixed scenario (numbers, texts, lists and sections), and some that are not.
FIELDS = [
    "seed", "duration_days", "name", "description", "start_date", "policy", "population.size", "population.city",
    "population.building_households_mean", "population.compound_residents_max", "population.male_fraction",
    "transmission.r0", "transmission.layers.household.contacts_per_day", "transmission.layers.community.contacts_per_day",
    "seeding.0.count", "seeding.0.day", "seeding.0.per_100k", "seeding.0.district", "disease.variant",
    "disease.overrides.incubation.mean_days", "containment.testing.symptomatic_test_probability_per_day",
    "containment.zoning.city_sealed_after_cases", "ledger.food.stock_days_mean", "behaviour.base_compliance",
    "behaviour.enabled", "timeline", "outputs.figures", "population", "seeding", "no_such_field", "transmission.nope",
    "seeding.7.count", "population.size.extra",
]
NUMERIC_FIELDS = [
    "seed", "duration_days", "population.size", "population.building_households_mean", "population.male_fraction",
    "transmission.r0", "transmission.layers.household.contacts_per_day", "seeding.0.count", "seeding.0.day",
    "ledger.food.stock_days_mean", "behaviour.base_compliance",
]

numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e-300, 1e300, 2**63, -(2**63) - 1, 10**30, 0.5, 1e-7]),
)
texts = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
leaves = st.one_of(st.none(), st.booleans(), numbers, texts,
                   st.sampled_from(["2022-02-30", "2022-13-01", "1e5", ".inf", "-.nan", "yes", "~", "[]", "{}"]))
nested = st.recursive(leaves, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(texts, inner, max_size=4)), max_leaves=12)
#: Raw YAML pieces that no dump of Python data produces: aliases, recursion, bombs, deep nesting, tabs.
RAW_VALUES = [
    "&a [*a]", "&a {x: *a}", "[" * 300 + "]" * 300, "{a: " * 80 + "1" + "}" * 80, "*undefined", "&a 1",
    "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=", "'unterminated", "\t- x", "- - - - -",
    "{a: &x [1,2,3,4,5,6,7,8,9,10], b: [*x,*x,*x,*x,*x,*x,*x,*x,*x,*x]}", "2022-02-29", "0x1F", "0o17", "1_000",
    ".NaN", "-.Inf", "1e-400", "1e400", "\u202e\u0000", "null", "? complex key",
]
raw_yaml = st.sampled_from(RAW_VALUES)


def _alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 10) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines) + f"\nname: *a{levels}\n"


def _dump(value) -> str:
    try:
        return yaml.safe_dump(value, allow_unicode=True, default_flow_style=True, width=10_000).strip()
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return "x"


def _is_valid(source, overrides) -> bool:
    try:
        load_scenario(source, overrides)
    except ZerosimError:
        return False
    return True


def _check(result, allowed=(0, 2)) -> str | None:
    """Exit 0, or exit 2 with exactly one short 'error:' line and no traceback; the error line (or None)."""
    assert result.exit_code in allowed, (result.exit_code, result.output, repr(result.exception))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    if currently_in_test_context():
        event(f"exit {result.exit_code}")  # shown with --hypothesis-show-statistics (figures in docs/reliability.md)
    if result.exit_code == 0:
        return None
    lines = error_lines(result.stderr)
    assert all(line.startswith("error: ") and len(line) <= 420 for line in lines), result.stderr[:500]
    return lines[0]


def error_lines(stderr: str) -> list[str]:
    """The error lines of a refusal: one line, or -- from `validate`, which lists every problem in a
    file (issue 18) -- one line per problem and a closing 'N problems in FILE' line (dropped here)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if len(lines) > 1:
        assert re.match(r"^\d+ problems in ", lines[-1]) and len(lines) - 1 == int(lines[-1].split()[0]), stderr[:500]
        lines = lines[:-1]
    assert lines, stderr
    return lines


@pytest.fixture(scope="module")
def earlier_run(tmp_path_factory):
    """A finished run: refused runs with --force over it must leave every byte as it was."""
    out = tmp_path_factory.mktemp("fuzz") / "earlier"
    result = CliRunner().invoke(app, ["run", "well-mixed", "-n", "1000", "-d", "3", "--out", str(out), "-q",
                                      "--no-figures"])
    assert result.exit_code == 0, result.output
    return out


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.is_file()}


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
FUZZ_LONG = settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))


def _fuzz_set(key, raw, earlier_run, tmp_path):
    assignment = f"{key}={raw}"
    line = _check(CliRunner().invoke(app, ["validate", "well-mixed", "--set", assignment]))
    if line is None:
        return
    # the same input to `run --force` over a finished run: refused before anything is touched
    try:
        overrides = {parse_set(assignment)[0]: parse_set(assignment)[1]}
    except ZerosimError:
        overrides = None
    if overrides is not None and _is_valid("well-mixed", {**overrides, "population.size": 1000, "duration_days": 3}):
        return  # only the size made it invalid for validate; never simulate here
    before = _snapshot(earlier_run)
    result = CliRunner().invoke(app, ["run", "well-mixed", "--set", assignment, "--out", str(earlier_run),
                                      "--force", "-q", "--no-figures"])
    _check(result, allowed=(2,))
    assert _snapshot(earlier_run) == before


@FUZZ
@given(key=st.sampled_from(FIELDS), value=st.one_of(nested, raw_yaml))
def test_fuzzed_set_values(earlier_run, tmp_path, key, value):
    raw = value if isinstance(value, str) and value in RAW_VALUES else _dump(value)
    _fuzz_set(key, raw, earlier_run, tmp_path)


@FUZZ
@given(key=st.sampled_from(NUMERIC_FIELDS),
       value=st.one_of(st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not math.isfinite(x)),
                       texts.filter(lambda t: t.strip() != "" and "=" not in t), st.lists(numbers, max_size=3)))
def test_fuzzed_numbers_that_are_not_finite_numbers_name_the_field(key, value):
    raw = _dump(value) if not isinstance(value, str) else value
    result = CliRunner().invoke(app, ["validate", "well-mixed", "--set", f"{key}={raw}"])
    line = _check(result, allowed=(0, 2) if isinstance(value, str) else (2,))  # inf, nan, a list: never valid
    if line is not None:
        assert key.split(".")[-1] in line or key.split(".")[0] in line or "--set" in line, line


@FUZZ
@given(document=st.dictionaries(st.sampled_from(FIELDS + ["extends", "kind", "timeline", "\u00e9t\u00e9"]),
                                st.one_of(nested, raw_yaml), max_size=5),
       raw=st.booleans())
def test_fuzzed_scenario_files(tmp_path_factory, document, raw):
    folder = tmp_path_factory.mktemp("files")
    lines = ["extends: well-mixed"]
    for key, value in document.items():
        text = value if isinstance(value, str) and value in RAW_VALUES and raw else _dump(value)
        lines.append(f"{_dump(key) if key != 'extends' else 'extends'}: {text}")
    path = folder / "fuzz.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _check(CliRunner().invoke(app, ["validate", str(path)]))


@pytest.mark.parametrize("levels", [2, 4, 6, 9])
def test_alias_bombs_in_files(tmp_path, levels):
    path = tmp_path / "bomb.yaml"
    path.write_text("extends: well-mixed\n" + _alias_bomb(levels))
    line = _check(CliRunner().invoke(app, ["validate", str(path)]), allowed=(2,))
    assert "bomb.yaml" in line or "name" in line


@pytest.mark.slow
@FUZZ_LONG
@given(key=st.sampled_from(FIELDS), value=st.one_of(nested, raw_yaml))
def test_fuzzed_set_values_long(earlier_run, tmp_path, key, value):
    raw = value if isinstance(value, str) and value in RAW_VALUES else _dump(value)
    _fuzz_set(key, raw, earlier_run, tmp_path)


def test_earlier_run_is_intact_after_fuzzing(earlier_run):
    shutil.copytree(earlier_run, earlier_run.parent / "copy")  # the folder still reads as one run
    import zerosim

    results = zerosim.read_results(earlier_run)
    assert results.summary["scenario_hash"] == results.scenario.digest()
