"""CLI layer: the Typer app. Commands only; each is a thin shell over the Python API.

Turns every :class:`~zerosim.errors.ZerosimError` into ``error: <one line>`` on stderr and its
exit code, and (in :func:`main`) every usage error of an option into one line and exit 2.
Anything else is a bug and keeps its traceback. Exit codes: the README's table (errors.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zerosim.cli import region as _region
from zerosim.errors import InputError, OutputDirError, ZerosimError

app = typer.Typer(
    name="zerosim",
    help="Simulate zero-COVID containment in a Chinese megacity, and what it costs the people who live under it.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
errors = Console(stderr=True)


def one_line(message: object, limit: int = 400) -> str:
    """``message`` as one line of at most ``limit`` characters."""
    text = " ".join(str(message).splitlines()).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _version(value: bool) -> None:
    if value:
        from zerosim import __version__

        typer.echo(f"zerosim {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Simulate zero-COVID containment in a Chinese megacity, and what it costs the people who live under it."""


def _fail(error: ZerosimError) -> None:
    errors.print(f"error: {one_line(error)}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def _path_text(value: str | Path) -> str | Path:
    """Typer parser of path options: keeps ``""`` (which Path would turn into ".") for the command to refuse."""
    return value if isinstance(value, Path) or value == "" else Path(value)


def _out_path(value: str | Path, option: str = "--out") -> Path:
    from zerosim.io.paths import check_path

    return check_path(value, option, OutputDirError)


def _overrides(population: int | None, days: int | None, seed: int | None, assignments: list[str]) -> dict:
    from zerosim.io.scenario import parse_set

    overrides: dict = {}
    for assignment in assignments:
        key, value = parse_set(assignment)
        overrides[key] = value
    if population is not None:
        overrides["population.size"] = population
    if days is not None:
        overrides["duration_days"] = days
    if seed is not None:
        overrides["seed"] = seed
    return overrides


@app.command()
def run(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name (see `zerosim scenarios`) or a YAML file.")] = "demo",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the results.", parser=_path_text)] = Path(
        "results/run"),
    population: Annotated[Optional[int], typer.Option("--population", "-n", help="Number of people (population.size).")] = None,
    days: Annotated[Optional[int], typer.Option("--days", "-d", help="Days to simulate (duration_days).")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", "-s", help="Random seed.")] = None,
    set_: Annotated[
        list[str], typer.Option("--set", help="Override any field: dotted.path=value (repeatable).")
    ] = [],  # noqa: B006 - Typer needs a literal default
    force: Annotated[bool, typer.Option("--force", help="Overwrite results already in --out.")] = False,
    figures: Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or summary table.")] = False,
    checkpoint_every: Annotated[
        Optional[int], typer.Option("--checkpoint-every", help="Write a checkpoint (and the tables so far) every K days.")
    ] = None,
    resume: Annotated[
        Optional[Path], typer.Option("--resume", help="Continue the killed run in this directory from its checkpoint.",
                                     parser=_path_text)
    ] = None,
    baseline: Annotated[
        Optional[Path], typer.Option("--baseline", help="A run directory to compare with (cost per infection averted).")
    ] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Also write report.html: one self-contained page of the run.")
    ] = False,
    check: Annotated[
        bool, typer.Option("--check", help="Check invariants every day (people conserved, capacities kept); a broken "
                                           "one stops the run with exit code 3. Same as ZEROSIM_CHECK=1.")
    ] = False,
) -> None:
    """Run a scenario and write summary.json, timeseries.parquet, by_district.parquet, scenario.yaml and figures."""
    from zerosim.api import preflight
    from zerosim.api import resume as resume_run
    from zerosim.api import run as run_scenario
    from zerosim.io.scenario import load_scenario

    if check:  # read by every Simulation this process (and its worker processes) builds
        from zerosim.engine.invariants import CHECK_ENV

        os.environ[CHECK_ENV] = "1"
    from zerosim.cli.progress import RunDisplay, compile_watch

    try:
        if resume is not None:
            from zerosim.io.checkpoint import read_checkpoint

            checkpoint = read_checkpoint(_out_path(resume, "--resume"))  # checked before the progress bar shows
            display = RunDisplay(errors, quiet=quiet, total_days=checkpoint.scenario.duration_days,
                                 description="resuming")
            with display, compile_watch(display.compiling):
                results = resume_run(resume, figures=figures, report=report, on_phase=display.phase,
                                     on_day=display.day, on_progress=display.progress)
        elif _region.is_region(scenario):  # kind: region -- several cities and the travel between them
            from zerosim.cli._tables import stdout

            _region.run_region_command(scenario, _out_path(out), _overrides(population, days, seed, set_), force,
                                       figures, quiet, stdout(), errors)
            return
        else:
            out = _out_path(out)
            resolved = load_scenario(scenario, _overrides(population, days, seed, set_))
            if checkpoint_every is not None and checkpoint_every < 1:
                raise InputError(f"--checkpoint-every: must be >= 1 day, got {checkpoint_every}; "
                                 "give a whole number of days")
            preflight(resolved, out, force, baseline)
            display = RunDisplay(errors, quiet=quiet, total_days=resolved.duration_days)
            with display, compile_watch(display.compiling):
                results = run_scenario(
                    resolved, out=out, force=force, figures=figures, checkpoint_every=checkpoint_every, baseline=baseline,
                    report=report, on_phase=display.phase, on_day=display.day, on_progress=display.progress,
                )
    except ZerosimError as error:
        _fail(error)
        return
    if not quiet:
        _print_summary(results.summary)
        from zerosim.io.explain import explain_run

        for sentence in explain_run(results.summary, results.timeseries, results.events):
            console.print(f"why: {sentence}", highlight=False, markup=False)
    console.print(f"results: {results.out_dir}/", highlight=False)
    for figure in results.figures:
        console.print(f"figure:  {figure}", highlight=False)
    if results.report is not None:
        console.print(f"report:  {results.report}", highlight=False)


def _print_summary(summary: dict) -> None:
    from zerosim.cli._tables import print_facts, stdout

    facts = [
        ("people", f"{summary['population']:,}"),
        ("days", f"{summary['days']}"),
        ("infections", f"{summary['infections']:,} ({100 * summary['attack_rate']:.1f}%)"),
        ("deaths", f"{summary['deaths']:,}"),
        ("peak infectious", f"{summary['peak_infectious']:,} on day {summary['peak_infectious_day']}"),
        ("runtime", f"{summary['runtime_seconds']:.1f} s"),
    ]
    console = stdout()
    print_facts(console, f"zerosim · {summary['scenario']}", facts)
    for note in summary.get("scale_notes", []):
        console.print(f"note: {note}", highlight=False, markup=False, soft_wrap=True)


def _scenario_entries() -> list[dict]:
    from zerosim.io.scenario import builtin_names, load_scenario

    entries = []
    for name in builtin_names():
        s = load_scenario(name)
        entries.append({"name": name, "kind": "city", "people": s.population.size, "days": s.duration_days,
                        "variant": s.disease.variant, "policy": s.policy, "description": " ".join(s.description.split())})
    return entries + _region.region_entries()


def _people(entry: dict) -> str:
    return f"{entry['people']:,}"


@app.command()
def scenarios(
    name: Annotated[Optional[str], typer.Argument(help="Show this scenario with its whole description.")] = None,
    long: Annotated[bool, typer.Option("--long", "-l", help="Whole descriptions, wrapped to the terminal.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON (for scripts).")] = False,
) -> None:
    """List the built-in scenarios (one line each; NAME or --long for the whole description)."""
    from zerosim.cli._tables import Column, print_json, print_table, stdout

    console = stdout()
    entries = _scenario_entries()
    if name is not None:
        chosen = [entry for entry in entries if entry["name"] == name]
        if not chosen:
            import difflib

            near = difflib.get_close_matches(name, [entry["name"] for entry in entries], n=1)
            hint = f"did you mean `{near[0]}`? " if near else ""
            from zerosim.errors import ScenarioError

            _fail(ScenarioError(f"scenarios: no built-in scenario '{name}'; {hint}run `zerosim scenarios` for the list"))
        entries = chosen
    if as_json:
        print_json(console, entries if name is None else entries[0])
        return
    if name is not None or long:
        for k, entry in enumerate(entries):
            facts = [f"{_people(entry)} people"]
            if entry["kind"] == "region":
                facts.append(f"region of {len(entry['cities'])} cities ({', '.join(entry['cities'])})")
            facts += [f"{entry['days']} days", entry["variant"]]
            if entry.get("policy"):
                facts.append(f"policy {entry['policy']}")
            if k:
                console.print()
            console.print(entry["name"], style="bold", markup=False, soft_wrap=not console.is_terminal)
            console.print(" · ".join(facts), markup=False, soft_wrap=not console.is_terminal)
            console.print(entry["description"], markup=False, soft_wrap=not console.is_terminal)
        return
    columns = [Column("name"), Column("people", "right"), Column("days", "right"), Column("variant"),
               Column("description", cut=True)]
    rows = [[entry["name"], _people(entry), str(entry["days"]), entry["variant"],
             ("[region] " if entry["kind"] == "region" else "") + entry["description"]] for entry in entries]
    print_table(console, columns, rows, title="built-in scenarios", full_width_in_pipe=True)
    if console.is_terminal:
        console.print("whole description: zerosim scenarios NAME (or --long); for scripts: --json",
                      style="dim", markup=False)


@app.command()
def validate(
    file: Annotated[str, typer.Argument(help="Scenario YAML file (or built-in name) to check.")],
    set_: Annotated[list[str], typer.Option("--set", help="Override: dotted.path=value (repeatable).")] = [],  # noqa: B006
) -> None:
    """Check a scenario file without running it: every problem, one line each (exit 2), or its summary."""
    from zerosim.io.problems import scenario_problems
    from zerosim.io.scenario import load_scenario
    from zerosim.region.config import region_problems

    try:
        problems = (region_problems if _region.is_region(file) else scenario_problems)(
            file, _overrides(None, None, None, set_))
        if len(problems) > 1:
            for problem in problems:
                errors.print(f"error: {one_line(problem)}", markup=False, highlight=False, soft_wrap=True)
            errors.print(f"{len(problems)} problems in {file}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(2)
        if _region.is_region(file):
            region = _region.load_any(file, _overrides(None, None, None, set_))
            cities = ", ".join(city.name for city in region.cities)
            console.print(f"ok: {region.name}: region of {len(region.cities)} cities ({cities}), "
                          f"{region.duration_days} days", highlight=False)
            return
        scenario = load_scenario(file, _overrides(None, None, None, set_))
    except ZerosimError as error:
        _fail(error)
        return
    console.print(
        f"ok: {scenario.name}: {scenario.population.size:,} people, {scenario.duration_days} days, "
        f"{scenario.disease.variant}, policy {scenario.policy}",
        highlight=False,
    )


@app.command()
def compare(
    runs: Annotated[
        list[str],
        typer.Argument(help="Two or more run directories written by `zerosim run`; or one scenario with --policy."),
    ],
    policy: Annotated[
        list[str], typer.Option("--policy", "-p", help="Run the scenario under each of these policies (same seed).")
    ] = [],  # noqa: B006
    baseline: Annotated[int, typer.Option("--baseline", "-b", help="Index of the run the others are compared with.")] = 0,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write comparison.csv/.json and comparison.png here.",
                                                parser=_path_text)] = None,
    population: Annotated[Optional[int], typer.Option("--population", "-n", help="With --policy: number of people.")] = None,
    days: Annotated[Optional[int], typer.Option("--days", "-d", help="With --policy: days to simulate.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", "-s", help="With --policy: the shared seed.")] = None,
    set_: Annotated[list[str], typer.Option("--set", help="With --policy: override dotted.path=value.")] = [],  # noqa: B006
    strict: Annotated[bool, typer.Option("--strict", help="Fail if populations or days differ.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an earlier comparison in --out (and with --policy, "
                                                        "earlier runs there).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON (for scripts).")] = False,
) -> None:
    """Compare runs with a baseline: what each averted, and what it cost (table, sentence, figure)."""
    from zerosim.api import run as run_scenario
    from zerosim.cli.progress import RunDisplay, compile_watch
    from zerosim.io.compare import compare_runs, comparison_json, headline, write_comparison
    from zerosim.io.scenario import load_scenario

    try:
        if out is not None:
            from zerosim.io.compare import COMPARISON_FILES

            out = _out_path(out)
            held = [name for name in COMPARISON_FILES if (out / name).exists()]
            if held and not force:  # checked before any run starts
                raise OutputDirError(f"--out: '{out}' already holds a comparison ({held[0]}); add --force to overwrite "
                                     "or choose another --out")
        if not policy and len(runs) < 2:
            raise InputError(f"compare: need at least two run directories, got {len(runs)}; give two or more, "
                             "or one scenario with --policy")
        if policy:
            if len(runs) != 1:
                raise InputError("compare: with --policy give exactly one scenario (e.g. demo), not run directories")
            if out is None:
                raise InputError("compare: with --policy give --out DIR for the runs and the comparison")
            directories = []
            for name in policy:
                overrides = _overrides(population, days, seed, set_)
                overrides["policy"] = name
                scenario = load_scenario(runs[0], overrides)
                errors.print(f"running {scenario.name} under {name} ...", highlight=False)
                if errors.is_terminal:  # the terminal display is this one line per run
                    run_scenario(scenario, out=out / name, force=force)
                else:  # a log or a pipe: plain progress lines (cli/progress.py)
                    display = RunDisplay(errors, quiet=False, total_days=scenario.duration_days, label=name)
                    with display, compile_watch(display.compiling):
                        run_scenario(scenario, out=out / name, force=force, on_phase=display.phase,
                                     on_day=display.day, on_progress=display.progress)
                directories.append(out / name)
        else:
            directories = [Path(run) for run in runs]
        comparison = compare_runs(directories, baseline=baseline, strict=strict)
        paths = []
        if out is not None:
            from zerosim.viz.ledger_figures import comparison_figure

            paths = write_comparison(comparison, out, force=force)
            paths.append(comparison_figure(comparison, out / "comparison.png"))
    except ZerosimError as error:
        _fail(error)
        return
    from zerosim.cli._tables import print_json, stdout

    console = stdout()
    if as_json:
        print_json(console, comparison_json(comparison, paths))
        for warning in comparison.warnings:
            errors.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
        return
    _print_comparison(console, comparison)
    for warning in comparison.warnings:
        errors.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    console.print(headline(comparison), highlight=False, markup=False)
    for path in paths:
        console.print(f"written: {path}", highlight=False, markup=False, soft_wrap=True)


def _print_comparison(console: Console, comparison) -> None:
    """The comparison table at the console's width: units dropped, then split, before any value is cut.

    Ledger breakdowns (``income_lost_cny_by_sector.retail``) are listed under their total's name.
    """
    from zerosim.cli._tables import Column, key_room, print_table
    from zerosim.io.compare import format_table

    text = format_table(comparison)
    names = list(comparison.names)
    others = [name for i, name in enumerate(names) if i != comparison.baseline]
    differences = ["difference"] if len(others) == 1 else [f"diff {name}" for name in others]
    rows, group = [], None
    for measure, row in text.iterrows():
        prefix, _, part = str(measure).partition(".")
        if part and prefix != group:
            rows.append([f"{prefix}:"] + [None] * (len(row)))
        group = prefix if part else None
        rows.append([f"  {part}" if part else str(measure), *[str(value) for value in row.tolist()]])
    columns = [Column("measure"), Column("unit")] + [Column(name, "right") for name in names + differences]
    if key_room(columns, rows, console.width) < 30:  # no room for the units: they are in the names and the CSV
        columns = [columns[0]] + columns[2:]
        rows = [[row[0]] + row[2:] for row in rows]
    title = f"comparison with {names[comparison.baseline]} (the baseline)"
    if len(others) == 1:
        title += f"; difference = {others[0]} minus {names[comparison.baseline]}"
    print_table(console, columns, rows, title=title, min_key=24)


@app.command()
def ensemble(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file.")],
    runs: Annotated[int, typer.Option("--runs", "-r", help="Replicates per sweep point.")] = 10,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the ensemble's dataset and figures.",
                                      parser=_path_text)] = Path("results/ensemble"),
    set_: Annotated[list[str], typer.Option("--set", help="Override: dotted.path=value (repeatable).")] = [],  # noqa: B006
    sweep: Annotated[
        list[str], typer.Option("--sweep", help="Sweep a field: dotted.path=v1,v2,... (repeatable: a grid).")
    ] = [],  # noqa: B006
    population: Annotated[Optional[int], typer.Option("--population", "-n", help="Number of people.")] = None,
    days: Annotated[Optional[int], typer.Option("--days", "-d", help="Days to simulate.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", "-s", help="Base seed of the replicates.")] = None,
    scheduler: Annotated[
        Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler (default: LocalCluster).")
    ] = None,
    workers: Annotated[int, typer.Option("--workers", help="LocalCluster worker processes.")] = 2,
    force: Annotated[bool, typer.Option("--force", help="Replace an ensemble already in --out.")] = False,
) -> None:
    """Run replicates and sweeps on Dask; write a Parquet dataset, quantile bands and a band figure."""
    from zerosim.experiments.ensemble import describe, parse_sweep, run_ensemble, sweep_points
    from zerosim.viz.figures import ensemble_bands

    try:
        out = _out_path(out)
        resolved = _region.load_any(scenario, _overrides(population, days, seed, set_))
        grid = parse_sweep(sweep)
        from zerosim.cli.progress import CountDisplay

        plain = not errors.is_terminal  # a log or a pipe: plain lines (cli/progress.py)
        progress = Progress(TextColumn("[bold]replicates"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=errors, disable=plain)
        lines = CountDisplay("replicate")
        tasks: list = []

        def start() -> None:  # once every input is checked (a bad one prints only its one-line error)
            progress.start()
            tasks.append(progress.add_task("replicates", total=None))
            if plain:
                lines.lines.say(f"running {runs * len(sweep_points(grid))} replicates on {workers} workers"
                                if scheduler is None else f"running {runs * len(sweep_points(grid))} replicates")

        def done(count: int, total: int) -> None:
            progress.update(tasks[0], completed=count, total=total)
            if plain:
                lines.update(count, total)

        try:
            result = run_ensemble(resolved, runs, sweep=grid, scheduler=scheduler, workers=workers, out=out,
                                  force=force, on_start=start, on_done=done)
        finally:
            if tasks:
                progress.stop()
        if not result.quantiles.empty:
            ensemble_bands(result.quantiles, sweep_points(grid), resolved.name, out / "ensemble_bands.png",
                           start_date=getattr(resolved, "start_date", None))
    except ZerosimError as error:
        _fail(error)
        return
    for line in describe(result, sweep_points(grid), resolved.name):
        console.print(line, highlight=False, markup=False)
    console.print(f"{len(result.summaries)} replicates succeeded, {len(result.failures)} failed; results: {out}/",
                  highlight=False)
    for failure in result.failures:
        errors.print(f"failed: sweep {failure['overrides']} replicate {failure['replicate']}: {failure['error']}",
                     markup=False, highlight=False)
    if result.failures:
        raise typer.Exit(1)


@app.command("report")
def report_command(
    runs: Annotated[
        list[Path], typer.Argument(help="A run directory, or several to compare (written by `zerosim run`).")
    ],
    out: Annotated[
        Optional[Path],
        typer.Option("--out", "-o", help="HTML file to write (default: <run>/report.html for one run, "
                                         "report.html for several; a directory gets report.html inside).",
                     parser=_path_text),
    ] = None,
    baseline: Annotated[int, typer.Option("--baseline", "-b", help="With several runs: index of the baseline run.")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Replace --out even if it is a run's own file.")] = False,
) -> None:
    """Write one self-contained HTML report of a run, or of several runs compared (no network needed to view it)."""
    from zerosim.report import write_report

    try:
        from zerosim.errors import RunDirError
        from zerosim.io.paths import check_path

        runs = [check_path(run, "report", RunDirError) for run in runs]
        if out is None:
            out = runs[0] / "report.html" if len(runs) == 1 else Path("report.html")
        path = write_report(runs, _out_path(out), baseline=baseline, force=force)
    except ZerosimError as error:
        _fail(error)
        return
    console.print(f"report: {path}", highlight=False)


@app.command()
def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to bind: loopback only (127.0.0.1, ::1, localhost).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on (1-65535).")] = 8050,
) -> None:
    """Open a local dashboard: pick a scenario, move the policy levers, run at reduced scale, see curves and costs."""
    from zerosim.dashboard import serve as serve_dashboard

    try:
        if not 1 <= port <= 65535:
            raise InputError(f"--port: must be 1 to 65535, got {port}; give a free port, e.g. --port 8050")
        serve_dashboard(host=host, port=port)
    except ZerosimError as error:
        _fail(error)


def _click_module():
    """The Click that Typer runs on (recent Typer vendors it as ``typer._click``)."""
    try:
        from typer import _click as click  # noqa: PLC0415 - Typer >= 0.20 carries its own Click
    except ImportError:
        import click
    return click


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: usage errors (an unknown option, a value of the wrong type) are one line, exit 2."""
    click = _click_module()
    try:
        code = app(args=argv, standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        error.show()  # `zerosim` alone: the help
        sys.exit(error.exit_code)
    except click.ClickException as error:
        command = getattr(getattr(error, "ctx", None), "command_path", None) or "zerosim"
        errors.print(f"error: {command}: {one_line(error.format_message(), 300).rstrip('.')}; see {command} --help",
                     markup=False, highlight=False, soft_wrap=True)
        sys.exit(error.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        errors.print("interrupted")
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


from zerosim.cli import inference as _inference  # noqa: E402 - calibrate and forecast (cli/inference.py)

_inference.register(app)
from zerosim.cli import experiments as _experiments  # noqa: E402 - attribute and frontier (cli/experiments.py)

_experiments.register(app)

if __name__ == "__main__":
    main()
