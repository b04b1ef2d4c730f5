"""Progress where stderr is not a terminal (issue 16, item 4): plain lines while the run goes on,
with the day, the infections so far, the time elapsed and the time left; ``-q`` silences them."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys

from rich.console import Console

from zerosim.cli.progress import PlainLines, RunDisplay, seconds_text

LINE = re.compile(r"^day (\d+)/(\d+) \((\d+)%\), ([\d,]+) infected, [\w ]+ elapsed(, ~[\w ]+ left)?$")


def _run_command(tmp_path, *extra: str, days: int = 60) -> list[tuple[bool, str]]:
    """stderr lines of a small `zerosim run`, read while it runs; each line: (still running?, text)."""
    env = {**os.environ, "ZEROSIM_PROGRESS_SECONDS": "0"}  # every 5 % (the default is at most one per 10 s)
    command = [sys.executable, "-m", "zerosim.cli.app", "run", "demo", "-n", "5000", "-d", str(days), "--no-figures",
               "--out", str(tmp_path / "run"), *extra]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    lines = []
    for line in process.stderr:  # a pipe: not a terminal
        lines.append((process.poll() is None, line.rstrip("\n")))
    assert process.wait(timeout=600) == 0, lines
    return lines


def test_a_run_into_a_pipe_prints_progress_lines_while_it_runs(tmp_path):
    lines = _run_command(tmp_path)
    days = [(running, LINE.match(text)) for running, text in lines if text.startswith("day ")]
    assert all(match for _, match in days), lines
    numbers = [int(match.group(1)) for _, match in days]
    assert len(numbers) >= 10 and numbers == sorted(set(numbers)) and numbers[-1] == 60, numbers
    assert days[0][0], "the first progress line came only after the run had ended"
    infected = [int(match.group(4).replace(",", "")) for _, match in days]
    assert infected == sorted(infected) and infected[-1] > 0
    assert all(match.group(5) for _, match in days[1:-1]) and days[-1][1].group(5) is None  # time left, but at the end
    assert lines[0][1] == "building population" and "writing results" in [text for _, text in lines]


def test_quiet_silences_the_progress_lines(tmp_path):
    lines = _run_command(tmp_path, "-q", days=10)
    assert not [text for _, text in lines if text.startswith(("day ", "building"))], lines


def test_plain_lines_are_thinned_out_in_time_and_in_progress():
    stream = io.StringIO()
    lines = PlainLines(stream, interval_seconds=3600)
    assert lines.due(0.01)  # the first line is always due
    assert not lines.due(0.5)  # too soon
    assert lines.due(1.0, final=True)  # the last line always
    lines = PlainLines(stream, interval_seconds=0)
    assert lines.due(0.0) and not lines.due(0.01) and lines.due(0.06)  # at least 5 % apart
    assert seconds_text(42.4) == "42 s" and seconds_text(185) == "3 min 5 s" and seconds_text(3720) == "1 h 02 min"


def test_the_display_says_when_it_compiles():
    stream = io.StringIO()
    console = Console(file=io.StringIO(), force_terminal=False)
    with RunDisplay(console, quiet=False, total_days=2, stream=stream) as display:
        display.compiling(40)
        display.phase("simulating")
        display.day(0)
        display.progress(0, 5)
        display.day(1)
        display.progress(1, 9)
    text = stream.getvalue().splitlines()
    assert text[:2] == ["building population", "compiling kernels, first run only, about 40 s"], text
    assert text[-1].startswith("day 2/2 (100%), 9 infected"), text
    quiet = io.StringIO()
    with RunDisplay(console, quiet=True, total_days=2, stream=quiet) as display:
        display.compiling(40)
        display.progress(1, 9)
    assert quiet.getvalue() == ""


def test_count_lines_of_replicates(monkeypatch):
    from zerosim.cli.progress import CountDisplay

    monkeypatch.setenv("ZEROSIM_PROGRESS_SECONDS", "0")
    stream = io.StringIO()
    display = CountDisplay("replicate", stream=stream)
    for done in range(1, 5):
        display.update(done, 4)
    lines = stream.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"replicate {k}/4 ({25 * k}%)" for k in range(1, 5)], lines
    assert "left" in lines[0] and "left" not in lines[-1]
