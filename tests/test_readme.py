"""The README's numbers are what the code prints (issue 18, item 2): its `compare` sentence is re-run
at the stated size (slow) and, in the default suite, at a small size to check the sentence's form."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zerosim.cli.app import app

README = Path(__file__).resolve().parents[1] / "README.md"
#: The quoted comparison: the command in backticks, then the sentence it prints in quotes.
QUOTED = re.compile(r"\(`(zerosim compare [^`]+)`[^)]*\) gives: \"([^\"]+)\"")
NUMBER = re.compile(r"\d[\d,.]*(?: (?:million|billion))?")


def quoted() -> tuple[list[str], str]:
    """The README's compare command (as arguments, without ``zerosim``) and its quoted sentence."""
    match = QUOTED.search(" ".join(README.read_text().split()))
    assert match, "README: no (`zerosim compare ...`) gives: \"...\" example"
    return shlex.split(match.group(1))[1:], match.group(2)


def _headline(args: list[str], out: Path) -> str:
    result = CliRunner().invoke(app, args + ["--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads((out / "comparison.json").read_text())["headline"]


def _resize(args: list[str], population: int, days: int) -> list[str]:
    args = list(args)
    for option, value in (("--population", population), ("--days", days)):
        args[args.index(option) + 1] = str(value)
    return args


@pytest.mark.slow
def test_readme_compare_sentence_is_what_the_command_prints(tmp_path):
    args, sentence = quoted()
    printed = _headline(args, tmp_path / "readme")
    assert printed == sentence, f"README.md is stale: replace its quoted sentence with\n{printed}"


def test_readme_compare_sentence_has_the_form_the_code_writes(tmp_path):
    args, sentence = quoted()
    assert "--population" in args and "--days" in args
    printed = _headline(_resize(args, 4000, 40), tmp_path / "small")
    assert NUMBER.sub("N", printed) == NUMBER.sub("N", sentence), (printed, sentence)


def test_readme_full_sizes_of_the_real_outbreaks():
    from zerosim.io.scenario import load_scenario

    text = " ".join(README.read_text().split())
    match = re.search(r"they run at full size \((\d+)–(\d+) million people\)", text)
    assert match, "README: no 'they run at full size (A–B million people)'"
    sizes = [load_scenario(name).population.size for name in
             ("shanghai-2022", "shijiazhuang-2021", "wuhan-2020", "chongqing-2022")]
    assert (int(match.group(1)), int(match.group(2))) == (min(sizes) // 1_000_000, round(max(sizes) / 1e6))
