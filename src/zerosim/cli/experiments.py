"""CLI layer: `zerosim attribute` and `zerosim frontier`, thin shells over :mod:`zerosim.experiments.attribution`
and :mod:`zerosim.experiments.frontier`.

Registered on the app by :func:`register` (called at the end of ``cli/app.py``). Turns every
:class:`~zerosim.errors.ZerosimError` into ``error: <one line>`` on stderr and its exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from zerosim.cli.inference import _fail, _path_text  # the CLI's one-line refusal and --out "" guard
from zerosim.errors import ZerosimError

errors = Console(stderr=True)


class _Bar:
    """A task progress bar shown once every input is checked (a bad one prints only its one-line error); when
    stderr is a log or a pipe, plain lines instead (cli/progress.py), as `run` and `ensemble` print."""

    def __init__(self, label: str, quiet: bool):
        from zerosim.cli.progress import CountDisplay

        self.label = label
        self.plain = not errors.is_terminal and not quiet
        self.progress = Progress(TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 console=errors, disable=quiet or self.plain)
        self.lines = CountDisplay(label.rstrip("s"))
        self.task = None

    def start(self, total: int) -> None:
        self.progress.start()
        self.task = self.progress.add_task("runs", total=total)
        if self.plain:
            self.lines.lines.say(f"running {total} {self.label}")

    def done(self, done: int, total: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done, total=total)
        if self.plain:
            self.lines.update(done, total)

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()


Scheduler = Annotated[Optional[str], typer.Option("--scheduler", help="Address of an existing Dask scheduler "
                                                  "(default: a LocalCluster of --workers processes).")]
Workers = Annotated[int, typer.Option("--workers", help="LocalCluster worker processes.")]
Population = Annotated[Optional[int], typer.Option("--population", "-n", help="Number of people (population.size).")]
Days = Annotated[Optional[int], typer.Option("--days", "-d", help="Days to simulate (duration_days).")]
Set = Annotated[list[str], typer.Option("--set", help="Override a scenario field: dotted.path=value (repeatable).")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]


def attribute(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file.")],
    parts: Annotated[str, typer.Option("--parts", help="Containment parts to attribute to, comma-separated.")] =
    "testing,isolation,tracing,zoning,closures,health_code",
    seeds: Annotated[int, typer.Option("--seeds", help="Replicates: every arm runs each seed.")] = 2,
    permutations: Annotated[Optional[int], typer.Option(
        "--permutations", help="Sample this many orders of the parts instead of running all 2^k subsets "
                               "(default: exact up to 6 parts).")] = None,
    population: Population = None,
    days: Days = None,
    seed: Annotated[Optional[int], typer.Option("--seed", "-s", help="Base seed of the replicates.")] = None,
    set_: Set = [],  # noqa: B006 - Typer needs a literal default
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the attribution.", parser=_path_text)] =
    Path("results/attribution"),
    scheduler: Scheduler = None,
    workers: Workers = 2,
    force: Annotated[bool, typer.Option("--force", help="Replace an attribution already in --out.")] = False,
    quiet: Quiet = False,
) -> None:
    """What each containment part bought and cost: Shapley values over parts switched off, same seeds in every arm."""
    from zerosim.cli._tables import Column, print_table, stdout
    from zerosim.cli.app import _out_path, _overrides
    from zerosim.experiments.attribution import PART_LABELS, run_attribution
    from zerosim.io.scenario import load_scenario
    from zerosim.numbers import money, words

    bar = _Bar("arms", quiet)
    try:
        out = _out_path(out)
        resolved = load_scenario(scenario, _overrides(population, days, seed, set_))
        try:
            result = run_attribution(resolved, parts.split(","), seeds=seeds, permutations=permutations,
                                     scheduler=scheduler, workers=workers, out=out, force=force,
                                     on_start=bar.start, on_done=bar.done)
        finally:
            bar.stop()
        figure = None
        if not result.table.empty:
            from zerosim.experiments.attribution import attribution_document
            from zerosim.viz.attribution_figures import attribution_waterfall

            document = attribution_document(result, resolved)
            figure = attribution_waterfall(result.table, document["totals"], document["part_labels"],
                                           out / "attribution_waterfall.png",
                                           title=f"{resolved.name}: what each part bought and cost")
    except ZerosimError as error:
        _fail(error)
        return
    console = stdout()
    if not result.table.empty:
        frame = result.table.set_index(["part", "measure"])

        def cell(part: str, measure: str, write) -> str:
            row = frame.loc[(part, measure)]
            spread = f" ({write(row['low'])} – {write(row['high'])})" if len(result.seeds) > 1 else ""
            return write(row["value"]) + spread

        columns = [Column("part"), Column("infections averted", "right"), Column("deaths averted", "right"),
                   Column("person-days confined", "right"), Column("income lost", "right")]
        rows = [[PART_LABELS[part], cell(part, "infections_averted", words), cell(part, "deaths_averted", words),
                 cell(part, "confined_person_days", words), cell(part, "income_lost_cny", money)]
                for part in result.parts]
        totals = result.totals
        rows.append(["all parts together", words(totals["infections_averted"]["value"]),
                     words(totals["deaths_averted"]["value"]), words(totals["confined_person_days"]["value"]),
                     money(totals["income_lost_cny"]["value"])])
        interval = "; 95 % interval over seeds in brackets" if len(result.seeds) > 1 else ""
        print_table(console, columns, rows, title=f"Shapley values over {len(result.parts)} parts, "
                    f"{result.method}, {len(result.seeds)} seed{'s' if len(result.seeds) != 1 else ''}{interval}")
    for sentence in result.sentences:
        console.print(sentence, highlight=False, markup=False, soft_wrap=True)
    seeds_text = f"{len(result.seeds)} seed{'s' if len(result.seeds) != 1 else ''}"
    console.print(f"{int(result.arms['arm'].nunique())} arms x {seeds_text}; results: {out}/",
                  highlight=False, markup=False)
    if figure is not None:
        console.print(f"figure:  {figure}", highlight=False, markup=False)
    for failure in result.failures:
        errors.print(f"failed: arm {'/'.join(failure['arms'])} seed {failure['seed']}: {failure['error']}",
                     markup=False, highlight=False, soft_wrap=True)
    if result.failures:
        raise typer.Exit(1)


def frontier(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file.")],
    lever: Annotated[list[str], typer.Option("--lever", help="A field searched over: PATH=LO:HI (ints if both are) "
                                             "or PATH=A,B,C (repeatable).")] = [],  # noqa: B006
    objectives: Annotated[str, typer.Option("--objectives", help="Totals to minimise, comma-separated.")] =
    "infections,confined_person_days",
    trials: Annotated[int, typer.Option("--trials", help="Trials in all.")] = 24,
    seeds: Annotated[int, typer.Option("--seeds", help="Replicates every trial runs (the same seeds in all).")] = 1,
    batch: Annotated[Optional[int], typer.Option("--batch", help="Trials asked at once (one NSGA-II generation).")] =
    None,
    population: Population = None,
    days: Days = None,
    set_: Set = [],  # noqa: B006
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the frontier.", parser=_path_text)] =
    Path("results/frontier"),
    scheduler: Scheduler = None,
    workers: Workers = 2,
    seed: Annotated[int, typer.Option("--seed", "-s", help="Seed of the sampler (same seed: same frontier).")] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace a frontier already in --out.")] = False,
    quiet: Quiet = False,
) -> None:
    """The least of one objective for each level of another: multi-objective search over policy levers."""
    from zerosim.cli._tables import Column, print_table, stdout
    from zerosim.cli.app import _out_path, _overrides
    from zerosim.experiments.frontier import describe, run_frontier
    from zerosim.io.scenario import load_scenario
    from zerosim.numbers import words

    bar = _Bar("trials", quiet)
    try:
        out = _out_path(out)
        resolved = load_scenario(scenario, _overrides(population, days, None, set_))
        try:
            result = run_frontier(resolved, lever, objectives, trials=trials, seeds=seeds, batch=batch, seed=seed,
                                  scheduler=scheduler, workers=workers, out=out, force=force,
                                  on_start=bar.start, on_done=bar.done)
        finally:
            bar.stop()
        figure = None
        if len(result.frontier):
            from zerosim.viz.attribution_figures import frontier_plot

            labels = {o.key: f"{o.label} ({o.unit})" for o in result.objectives}
            figure = frontier_plot(result.trials, result.frontier, result.actual, [o.key for o in result.objectives],
                                   labels, out / "frontier.png", closest=result.closest)
    except ZerosimError as error:
        _fail(error)
        return
    console = stdout()
    keys = [o.key for o in result.objectives]
    paths = [item.path for item in result.levers]
    columns = [Column("point")] + [Column(path.split(".")[-1], "right") for path in paths] + \
              [Column(key, "right") for key in keys]
    rows = [[str(point["id"])] + [str(point[path]) for path in paths] + [words(point[key]) for key in keys]
            for _, point in result.frontier.iterrows()]
    rows.append(["actual"] + [str(result.actual.get(path)) for path in paths]
                + [words(result.actual.get(key)) for key in keys])
    print_table(console, columns, rows, title="the non-dominated set found, and the actual policy")
    for line in describe(result):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    console.print(f"results: {out}/ (frontier.parquet, trials.parquet, points/<id>.yaml, frontier.json)",
                  highlight=False, markup=False)
    if figure is not None:
        console.print(f"figure:  {figure}", highlight=False, markup=False)
    for failure in result.failures:
        errors.print(f"failed: trial {failure['trial']}: {failure['error']}", markup=False, highlight=False,
                     soft_wrap=True)
    if result.failures:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``attribute`` and ``frontier`` to the zerosim app."""
    app.command("attribute")(attribute)
    app.command("frontier")(frontier)
