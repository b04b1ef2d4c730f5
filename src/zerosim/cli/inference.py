"""CLI layer: `zerosim calibrate` and `zerosim forecast`, thin shells over :mod:`zerosim.experiments.calibrate`.

Registered on the app by :func:`register` (called at the end of ``cli/app.py``). Turns every
:class:`~zerosim.errors.ZerosimError` into ``error: <one line>`` on stderr and its exit code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from zerosim.errors import ZerosimError

console = Console()
errors = Console(stderr=True)


def _fail(error: ZerosimError) -> None:
    from zerosim.cli.app import one_line

    errors.print(f"error: {one_line(error)}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(error.exit_code)


def _path_text(value):
    """Keeps ``--out ""`` for the command to refuse (Path would turn it into ".")."""
    from zerosim.cli.app import _path_text as keep

    return keep(value)


def _overrides(assignments: list[str]) -> dict:
    from zerosim.io.scenario import parse_set

    overrides: dict = {}
    for assignment in assignments:
        key, value = parse_set(assignment)
        overrides[key] = value
    return overrides


class _Display:
    """A Rich progress display fed by the calibrate/forecast ``on_event`` callbacks."""

    def __init__(self, quiet: bool, generations: int | None):
        from zerosim.cli.progress import CountDisplay, PlainLines

        self.plain = not errors.is_terminal  # a log or a pipe: plain lines instead of the bar (cli/progress.py)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=errors, disable=quiet or self.plain, transient=False)
        self.lines = PlainLines() if self.plain and not quiet else None
        self.runs = CountDisplay("forecast run") if self.lines is not None else None
        self.generations = generations
        self.task = None
        self.state = {"t": 0, "epsilon": None, "accepted": "", "simulations": 0}
        self.quiet = quiet

    def __enter__(self):
        return self

    def _start(self) -> None:
        """Show the display once the inputs are checked (a bad input prints only its one-line error)."""
        if self.task is None:
            self.progress.start()
            self.task = self.progress.add_task("preparing", total=self.generations)

    def __exit__(self, *exc):
        if self.task is not None:
            self.progress.stop()
        return False

    def _describe(self) -> str:
        s = self.state
        parts = [f"ABC generation {s['t'] + 1}" + (f"/{self.generations}" if self.generations else "")]
        if s["epsilon"] is not None:
            parts.append(f"eps {s['epsilon']:.3g}")
        if s["accepted"]:
            parts.append(s["accepted"])
        if s["simulations"]:
            parts.append(f"{s['simulations']:,} simulations")
        return " · ".join(parts)

    def _say(self, text: str, kind: str) -> None:
        """A plain line (logs and pipes): each generation, and simulation counts at most every few seconds."""
        from zerosim.cli.progress import seconds_text

        if self.lines is None:
            return
        if kind == "simulation" and not self.lines.due(float(self.state["simulations"])):
            return
        self.lines.say(f"{text}, {seconds_text(self.lines.elapsed())} elapsed")

    def __call__(self, kind: str, **info) -> None:
        self._start()
        self._plain(kind, info)
        if kind == "ready":
            if not self.quiet:
                errors.print(f"{info['statement']}; model series {info['observe']}; fit window {info['window']}",
                             highlight=False, soft_wrap=True)
            for warning in info.get("warnings", []):
                errors.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
            self.progress.update(self.task, description="sampling the prior")
        elif kind == "generation":
            self.state.update(t=info["t"], epsilon=info["epsilon"], accepted="")
            self.progress.update(self.task, description=self._describe(), completed=info["t"])
        elif kind == "accepted":
            self.state["accepted"] = f"accepted {info['accepted']}/{info['samples']}"
            self.progress.update(self.task, description=self._describe(), completed=info["t"] + 1)
        elif kind == "simulation":
            self.state["simulations"] = info["count"]
            if info["count"] % 5 == 0:
                self.progress.update(self.task, description=self._describe())
        elif kind == "forecast":
            self.progress.update(self.task, description="forecast runs", completed=0, total=info["runs"])
        elif kind == "run":
            self.progress.update(self.task, description="forecast runs", completed=info["done"], total=info["total"])
        elif kind == "writing":
            self.progress.update(self.task, description="writing outputs")

    def _plain(self, kind: str, info: dict) -> None:
        if self.lines is None:
            return
        if kind == "ready":
            self._say("sampling the prior", kind)
        elif kind == "generation":
            self.state.update(t=info["t"], epsilon=info["epsilon"], accepted="")
            self._say(self._describe(), kind)
        elif kind == "accepted":
            self.state["accepted"] = f"accepted {info['accepted']}/{info['samples']}"
            self._say(self._describe(), kind)
        elif kind == "simulation":
            self.state["simulations"] = info["count"]
            self._say(self._describe(), kind)
        elif kind == "forecast":
            self.lines.say(f"forecast: {info['runs']} runs")
        elif kind == "run":
            self.runs.update(info["done"], info["total"])
        elif kind == "writing":
            self.lines.say("writing outputs")


# -- shared options ------------------------------------------------------------------------------------
Data = Annotated[str, typer.Option("--data", "-D", help="Observed CSV (date,cases[,district]) or a built-in series name.")]
Prior = Annotated[list[str], typer.Option("--prior", help="PATH=DIST(a,b), e.g. transmission.r0=uniform(1.5,4), "
                                          "seeding.0.count=loguniform(5,200), ascertainment=uniform(0.2,1) (repeatable).")]
Spec = Annotated[Path | None, typer.Option("--spec", help="YAML with priors:, observe:, until:, scale: (options win).")]
Observe = Annotated[str | None, typer.Option("--observe", help="Model series compared with the data: cases_detected "
                                                "(default when the scenario tests) or new_infections.")]
Until = Annotated[str | None, typer.Option("--until", help="Last date of data to fit (YYYY-MM-DD; default: the last date).")]
Population = Annotated[int | None, typer.Option("--population", "-n", help="Agents to simulate (reduced scale).")]
CityPopulation = Annotated[int | None, typer.Option(
    "--city-population", help="Real size of the city of the data (default: the scenario's population.size).")]
Set = Annotated[list[str], typer.Option("--set", help="Override a scenario field: dotted.path=value (repeatable).")]
Particles = Annotated[int | None, typer.Option("--particles", help="ABC population size per generation [100].")]
Generations = Annotated[int | None, typer.Option("--generations", help="Maximum ABC-SMC generations [8].")]
MinEpsilon = Annotated[float | None, typer.Option("--min-epsilon", help="Stop once the tolerance is below this [0].")]
MaxMinutes = Annotated[float | None, typer.Option("--max-minutes", help="Stop after the generation that passes this [55].")]
SmoothDays = Annotated[int | None, typer.Option("--smooth-days", help="Trailing mean (days) before comparing [7].")]
DistrictWeight = Annotated[float | None, typer.Option("--district-weight", help="Weight of the split-by-district term [1].")]
TotalWeight = Annotated[float | None, typer.Option(
    "--total-weight", help="Weight of the window-total term, |log1p(model total) - log1p(data total)| [0: off].")]
Seed = Annotated[int | None, typer.Option("--seed", "-s", help="Seed of the fit (particles' seeds, pyabc) [1].")]
Workers = Annotated[int, typer.Option("--workers", help="Processes (a Dask LocalCluster when > 1).")]
Scheduler = Annotated[str | None, typer.Option("--scheduler", help="Address of an existing Dask scheduler.")]
Threads = Annotated[int | None, typer.Option(
    "--threads", help="Numba threads per simulation [all cores]; with --workers K on C cores use C/K.")]
Force = Annotated[bool, typer.Option("--force", help="Overwrite outputs already in --out.")]
Figures = Annotated[bool, typer.Option("--figures/--no-figures", help="Write PNG figures.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")]


def _settings(prior, spec, observe, until, population, city_population, particles, generations, min_epsilon,
              max_minutes, smooth_days, district_weight, seed, workers, scheduler, threads, total_weight=None):
    from zerosim.experiments.calibrate.fit import Settings
    from zerosim.experiments.calibrate.observed import parse_date

    return Settings.build(
        prior, spec, observe=observe, until=parse_date(until, "--until") if until is not None else None,
        population=population, city_population=city_population, particles=particles, generations=generations,
        min_epsilon=min_epsilon, max_minutes=max_minutes, smooth_days=smooth_days, district_weight=district_weight,
        total_weight=total_weight, seed=seed, workers=workers, scheduler=scheduler, threads=threads,
    )


def _print_posterior(info: dict) -> None:
    from zerosim.cli._tables import Column, print_table, stdout

    columns = [Column("parameter"), Column("prior")] + [Column(q, "right") for q in ("5%", "50%", "95%")]
    rows = [[path, row["prior"], f"{row['q05']:.4g}", f"{row['q50']:.4g}", f"{row['q95']:.4g}"]
            for path, row in info["posterior"].items()]
    print_table(stdout(), columns, rows, title="posterior")
    generations = info["generations"]
    schedule = ", ".join(f"{g['epsilon']:.3g}" for g in generations)
    console.print(f"{len(generations)} generations ({info['stopped']}); epsilon {schedule}; "
                  f"{info['simulations']:,} simulations; acceptance in the last generation "
                  f"{100 * (info['acceptance']['final_generation'] or 0):.0f}%; {info['wall_time_seconds']:.0f} s "
                  f"({info['sampler']})", highlight=False, soft_wrap=True)
    console.print(info["scale"]["statement"], highlight=False, soft_wrap=True)


def calibrate(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file.")],
    data: Data,
    prior: Prior = [],  # noqa: B006 - Typer needs a literal default
    spec: Spec = None,
    observe: Observe = None,
    until: Until = None,
    population: Population = None,
    city_population: CityPopulation = None,
    set_: Set = [],  # noqa: B006
    particles: Particles = None,
    generations: Generations = None,
    min_epsilon: MinEpsilon = None,
    max_minutes: MaxMinutes = None,
    smooth_days: SmoothDays = None,
    district_weight: DistrictWeight = None,
    total_weight: TotalWeight = None,
    seed: Seed = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    threads: Threads = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the calibration.", parser=_path_text)] = Path("results/calibration"),
    force: Force = False,
    figures: Figures = True,
    quiet: Quiet = False,
) -> None:
    """Fit uncertain parameters to observed daily cases (ABC-SMC): posterior, posterior predictive, fitted.yaml."""
    from zerosim.experiments.calibrate.fit import calibrate as run_calibration
    from zerosim.experiments.calibrate.fit import require_pyabc

    try:
        require_pyabc()
        settings = _settings(prior, spec, observe, until, population, city_population, particles, generations,
                             min_epsilon, max_minutes, smooth_days, district_weight, seed, workers, scheduler, threads,
                             total_weight)
        with _Display(quiet, settings.generations) as display:
            result = run_calibration(scenario, data, settings, out=out, overrides=_overrides(set_), force=force,
                                     figures=figures, on_event=display)
    except ZerosimError as error:
        _fail(error)
        return
    _print_posterior(result.info)
    for name in ("posterior.parquet", "posterior_predictive.parquet", "fitted.yaml", "calibration.json"):
        console.print(f"written: {result.out_dir / name}", highlight=False, soft_wrap=True)
    for figure in result.figures:
        console.print(f"figure:  {figure}", highlight=False, soft_wrap=True)


def forecast(
    scenario: Annotated[str, typer.Argument(help="Built-in scenario name or a YAML file (its release rules apply).")],
    data: Data,
    until: Annotated[str | None, typer.Option(
        "--until", help="Condition on the data up to this date (YYYY-MM-DD); required without --posterior.")] = None,
    posterior: Annotated[Path | None, typer.Option(
        "--posterior", help="A directory written by zerosim calibrate (default: calibrate first, into OUT/calibration).")] = None,
    runs: Annotated[int, typer.Option("--runs", "-r", help="Posterior draws run to the end of the scenario.")] = 50,
    prior: Prior = [],  # noqa: B006
    spec: Spec = None,
    observe: Observe = None,
    population: Population = None,
    city_population: CityPopulation = None,
    set_: Set = [],  # noqa: B006
    particles: Particles = None,
    generations: Generations = None,
    min_epsilon: MinEpsilon = None,
    max_minutes: MaxMinutes = None,
    smooth_days: SmoothDays = None,
    district_weight: DistrictWeight = None,
    total_weight: TotalWeight = None,
    seed: Seed = None,
    workers: Workers = 1,
    scheduler: Scheduler = None,
    threads: Threads = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for the forecast.", parser=_path_text)] = Path("results/forecast"),
    force: Force = False,
    figures: Figures = True,
    quiet: Quiet = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print forecast.json on stdout (for scripts).")] = False,
) -> None:
    """Forecast release dates, confinement and cases to come, conditioned on the data up to --until."""
    from zerosim.experiments.calibrate.fit import require_pyabc
    from zerosim.experiments.calibrate.forecast import forecast as run_forecast

    try:
        if posterior is None:
            require_pyabc()
        settings = _settings(prior, spec, observe, until, population, city_population, particles, generations,
                             min_epsilon, max_minutes, smooth_days, district_weight, seed, workers, scheduler, threads,
                             total_weight)
        with _Display(quiet, settings.generations if posterior is None else None) as display:
            result = run_forecast(scenario, data, settings, runs=runs, out=out, posterior=posterior,
                                  overrides=_overrides(set_), force=force, figures=figures, on_event=display)
    except ZerosimError as error:
        _fail(error)
        return
    if as_json:
        from zerosim.cli._tables import print_json, stdout

        print_json(stdout(), {**result.info, "written": [str(result.out_dir / name) for name in (
            "release_dates.parquet", "forecast.parquet", "forecast.json")] + [str(f) for f in result.figures]})
        return
    for sentence in result.summary:
        console.print(sentence, highlight=False, soft_wrap=True)
    if posterior is not None:
        for warning in result.info.get("warnings", []):
            errors.print(f"warning: {warning}", markup=False, highlight=False, soft_wrap=True)
    for name in ("release_dates.parquet", "forecast.parquet", "forecast.json"):
        console.print(f"written: {result.out_dir / name}", highlight=False, soft_wrap=True)
    for figure in result.figures:
        console.print(f"figure:  {figure}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the ``calibrate`` and ``forecast`` commands to ``app``."""
    app.command("calibrate")(calibrate)
    app.command("forecast")(forecast)
