"""Experiments layer (calibration): fit a scenario's uncertain parameters to an observed series with ABC-SMC (pyabc).

Layer ``experiments`` -- above the API; imports ``api``, ``io``, ``engine`` and this layer; never ``cli``.

:func:`calibrate` writes into ``out``:

* ``posterior.parquet`` -- the last generation: one row per particle with each parameter (value
  applied to the scenario), ``weight``, ``distance``, ``seed`` and ``generation``;
* ``posterior_trajectories.parquet`` -- each particle's model series over the fit window;
* ``posterior_predictive.parquet`` / ``.png`` -- per day: the data and the 5/25/50/75/95 % of the
  reported cases the posterior predicts (whole-city counts);
* ``fitted.yaml`` -- the scenario with the posterior medians (runs with ``zerosim run``);
* ``base_scenario.yaml`` -- the scenario the particles were run on (model scale);
* ``calibration.json`` -- priors, scale, generations, epsilon schedule, acceptance, wall time and
  the 5/50/95 % of every parameter; ``abc.db`` -- pyabc's history (SQLite).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from zerosim.experiments.calibrate.model import OBSERVABLES, ParticleModel, SeriesDistance
from zerosim.experiments.calibrate.observed import ObservedData, day_of, load_observed, parse_date
from zerosim.experiments.calibrate.priors import (
    ASCERTAINMENT,
    Prior,
    parse_prior,
    prior_from_spec,
    pyabc_prior,
    resolve_priors,
)
from zerosim.errors import (
    InputError,
    MissingDependencyError,
    OutputError,
    ScenarioError,
)
from zerosim.io.results import prepare_out_dir

#: Quantiles written for bands and parameters.
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Files that mark a directory as holding a calibration (never overwritten without force).
CALIBRATION_FILES = ("posterior.parquet", "calibration.json", "abc.db")
#: pyabc stops when a generation accepts fewer than this share of its simulations.
MIN_ACCEPTANCE_RATE = 0.005


def require_pyabc() -> None:
    """Raise a one-line error with the install command when pyabc is not installed."""
    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            "calibrate: needs pyabc, which is not installed; install it with: pip install 'zerosim[calibrate]'"
        ) from None


# -- settings: command-line options and the --spec file ----------------------------------------------
class ScaleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    population: int | None = Field(None, ge=100, description="Agents simulated (the model's population.size).")
    city_population: int | None = Field(None, ge=100, description="Real size of the city the data come from.")


class CalibrationSpec(BaseModel):
    """A ``--spec`` YAML file: priors and fit settings (command-line options take precedence)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    priors: dict[str, str] = Field(default_factory=dict, description="path: DIST(a,b), e.g. transmission.r0: uniform(1.5,4)")
    observe: Literal["cases_detected", "new_infections"] | None = None
    until: date | None = None
    scale: ScaleSpec = Field(default_factory=ScaleSpec)
    particles: int | None = Field(None, ge=5)
    generations: int | None = Field(None, ge=1)
    min_epsilon: float | None = Field(None, ge=0)
    max_minutes: float | None = Field(None, gt=0)
    smooth_days: int | None = Field(None, ge=1)
    district_weight: float | None = Field(None, ge=0)
    total_weight: float | None = Field(None, ge=0)
    seed: int | None = Field(None, ge=0)


def load_spec(path: str | Path) -> CalibrationSpec:
    """Read a ``--spec`` file; one-line ScenarioError naming the file and the field."""
    from zerosim.io.scenario import describe_validation_error

    path = Path(path)
    if not path.is_file():
        raise ScenarioError(f"--spec: '{path}' does not exist; give a YAML file with a priors: section")
    from zerosim.io.safe_yaml import MAX_YAML_BYTES, load_yaml

    try:
        if path.stat().st_size > MAX_YAML_BYTES:
            raise ScenarioError(f"--spec: '{path}' is larger than {MAX_YAML_BYTES:,} bytes; check the file")
        data = load_yaml(path.read_text(encoding="utf-8"), f"--spec {path}") or {}
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"--spec: cannot read '{path}' ({error.__class__.__name__}); fix the YAML") from None
    if not isinstance(data, dict):
        raise ScenarioError(f"--spec: '{path}' must be a YAML mapping (priors:, observe:, until:, scale:)")
    if isinstance(data.get("priors"), dict):
        data["priors"] = {str(k): str(v) for k, v in data["priors"].items()}
    try:
        return CalibrationSpec.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(f"--spec {path}: {describe_validation_error(error)}") from None


@dataclass
class Settings:
    """Everything a calibration needs besides the scenario and the data (defaults in brackets)."""

    priors: list[Prior]
    observe: str | None = None          # [cases_detected when the scenario tests people, else new_infections]
    until: date | None = None           # [the last observed date]
    population: int | None = None       # [the scenario's population.size: full scale]
    city_population: int | None = None  # [the scenario's population.size before --population]
    particles: int = 100
    generations: int = 8
    min_epsilon: float = 0.0
    max_minutes: float = 55.0
    smooth_days: int = 7
    district_weight: float = 1.0
    total_weight: float = 0.0
    seed: int = 1
    workers: int = 1
    scheduler: str | None = None
    threads: int | None = None          # [Numba's default: every core] Numba threads per simulation

    @classmethod
    def build(cls, prior_texts: list[str] = (), spec: str | Path | None = None, **options: Any) -> Settings:
        """Settings from ``--prior`` strings, a ``--spec`` file and options (None = not given)."""
        loaded = load_spec(spec) if spec is not None else CalibrationSpec()
        priors = [prior_from_spec(path, text) for path, text in loaded.priors.items()]
        given = [parse_prior(text) for text in prior_texts]
        given_paths = {prior.path for prior in given}
        priors = [prior for prior in priors if prior.path not in given_paths] + given
        values = {
            "observe": loaded.observe, "until": loaded.until, "population": loaded.scale.population,
            "city_population": loaded.scale.city_population, "particles": loaded.particles,
            "generations": loaded.generations, "min_epsilon": loaded.min_epsilon, "max_minutes": loaded.max_minutes,
            "smooth_days": loaded.smooth_days, "district_weight": loaded.district_weight, "total_weight": loaded.total_weight,
            "seed": loaded.seed,
        }
        values.update({key: value for key, value in options.items() if value is not None})
        settings = cls(priors=priors, **{key: value for key, value in values.items() if value is not None})
        if settings.observe is not None and settings.observe not in OBSERVABLES:
            raise ScenarioError(f"--observe: got {settings.observe!r}; use one of {', '.join(OBSERVABLES)}")
        if isinstance(settings.until, str):
            settings.until = parse_date(settings.until, "--until")
        for name, minimum in (("particles", 5), ("generations", 1), ("smooth_days", 1), ("workers", 1), ("threads", 1)):
            if getattr(settings, name) is not None and getattr(settings, name) < minimum:
                raise ScenarioError(f"--{name.replace('_', '-')}: must be >= {minimum}, got {getattr(settings, name)}")
        if settings.threads is None and settings.workers > 1 and settings.scheduler is None:
            settings.threads = max(1, (os.cpu_count() or 1) // settings.workers)  # share the cores between workers
        if settings.max_minutes <= 0:
            raise ScenarioError(f"--max-minutes: must be > 0, got {settings.max_minutes}")
        for name in ("district_weight", "total_weight"):
            if not 0 <= getattr(settings, name) < float("inf"):
                raise ScenarioError(f"--{name.replace('_', '-')}: must be a number >= 0, got {getattr(settings, name)}")
        if settings.scheduler is not None:
            from zerosim.experiments.ensemble import check_scheduler_address

            settings.scheduler = check_scheduler_address(settings.scheduler)
        return settings


# -- scale -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scale:
    """Model population vs the real city's: observed counts are multiplied by ``factor``."""

    population: int
    city_population: int

    @property
    def factor(self) -> float:
        return self.population / self.city_population

    def share(self) -> str:
        """'1/10' when the model is a whole fraction of the city, else e.g. '0.15'; 'full' at 1."""
        factor = self.factor
        if abs(factor - 1) < 1e-9:
            return "full"
        inverse = 1 / factor
        if factor < 1 and abs(inverse - round(inverse)) < 0.01 * inverse:
            return f"1/{round(inverse):,}"
        return f"{factor:.3g}"

    def statement(self, verb: str = "fitted") -> str:
        """E.g. 'fitted at 1/10 scale: 2,487,090 agents; observed counts scaled by 0.1'."""
        if self.share() == "full":
            return f"{verb} at full scale: {self.population:,} agents; observed counts not scaled"
        return (f"{verb} at {self.share()} scale: {self.population:,} agents; observed counts scaled by "
                f"{self.factor:.3g}")

    def label(self) -> str:
        """'1/10 scale (2,487,090 agents)' or 'full scale (30,000 agents)'."""
        return f"{self.share()} scale ({self.population:,} agents)"

    def as_dict(self) -> dict:
        return {"population": self.population, "city_population": self.city_population,
                "factor": self.factor, "statement": self.statement()}


# -- the prepared problem ----------------------------------------------------------------------------
@dataclass
class Problem:
    """A scenario, the data and the settings, checked and aligned, ready for pyabc."""

    scenario: Any                     # Scenario at model scale (before the priors are applied)
    observed: ObservedData
    settings: Settings
    priors: list[Prior]
    scale: Scale
    model: ParticleModel
    observed_window: dict             # the observed summary statistics (model scale)
    start_date: date
    until: date
    warnings: list[str] = field(default_factory=list)


def has_testing(scenario) -> bool:
    """Whether any policy period of ``scenario`` tests people (so ``cases_detected`` can be non-zero)."""
    from zerosim.api import policy_components

    components = policy_components(scenario, scenario.disease.resolve())
    return any(getattr(component, "name", "") == "testing" for component in components)


def load_problem(scenario, data, settings: Settings, overrides: dict | None = None) -> Problem:
    """Load and check everything; one-line ScenarioError naming the option at fault."""
    from zerosim.io.scenario import Scenario, load_scenario, validate_mapping
    from zerosim.population.synthesis import city_tables

    base = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, dict(overrides or {}))
    city_population = settings.city_population or base.population.size
    population = settings.population or base.population.size
    data_dict = base.model_dump(mode="json")
    data_dict["population"]["size"] = int(population)
    resolved = validate_mapping(data_dict)
    if resolved.start_date is None:
        raise ScenarioError("scenario: has no start_date, so observed dates cannot be aligned with simulation days; "
                            "set start_date (e.g. --set start_date=2022-03-01)")
    observed = data if isinstance(data, ObservedData) else load_observed(data)
    start = resolved.start_date
    until = settings.until or observed.last_date
    if until < start:
        raise ScenarioError(f"--until: {until} is before the scenario's start_date {start}; give a later date")
    until_day = day_of(start, until)
    if until_day >= resolved.duration_days:
        last = start + timedelta(days=resolved.duration_days - 1)
        raise ScenarioError(f"--until: {until} is after the scenario's last day {last}; give an earlier date "
                            f"or a longer duration_days")
    if until < observed.first_date:
        raise ScenarioError(f"--until: {until} is before the first observed date {observed.first_date}; "
                            f"give a date the data cover")
    if observed.last_date < start:
        raise ScenarioError(f"--data: every observed date is before the scenario's start_date {start}; "
                            f"give data from {start} on or an earlier start_date")
    first_day = max(0, day_of(start, observed.first_date))
    observe = settings.observe or ("cases_detected" if has_testing(resolved) else "new_infections")
    if observe == "cases_detected" and not has_testing(resolved):
        raise ScenarioError("--observe: the scenario tests nobody, so cases_detected is always 0; use --observe "
                            "new_infections (with an ascertainment prior) or a policy with testing")
    priors = resolve_priors(settings.priors, data_dict)
    scale = Scale(int(population), int(city_population))

    window = pd.date_range(pd.Timestamp(start) + pd.Timedelta(days=first_day), pd.Timestamp(until), freq="D")
    reported = observed.cases.reindex(window).to_numpy(dtype=np.float64) * scale.factor  # NaN: day not given
    observed_window: dict = {"reported": reported}
    district_index: tuple[int, ...] = ()
    if observed.by_district is not None:
        names = list(city_tables(resolved.population.city).district_names)
        lookup = {name.lower(): index for index, name in enumerate(names)}
        unknown = [name for name in observed.districts if name.lower() not in lookup]
        if unknown:
            raise ScenarioError(f"--data: district {unknown[0]!r} is not a district of {resolved.population.city}; "
                                f"use one of {', '.join(names)}")
        district_index = tuple(lookup[name.lower()] for name in observed.districts)
        by_district = observed.by_district.reindex(window).fillna(0.0)
        observed_window["districts"] = by_district.to_numpy(dtype=np.float64).sum(axis=0) * scale.factor
    model = ParticleModel(
        scenario_data=resolved.model_dump(mode="json"), priors=tuple(priors), observe=observe,
        first_day=first_day, until_day=until_day, district_index=district_index, calibration_seed=settings.seed,
        threads=settings.threads,
    )
    settings.observe = observe
    return Problem(resolved, observed, settings, priors, scale, model, observed_window, start, until,
                   scale_warnings(resolved, scale))


#: Zoning triggers given as absolute case counts: they do not shrink with a reduced-scale city.
ABSOLUTE_TRIGGERS = ("city_sealed_after_cases", "district_sealed_after_cases")


def scale_warnings(scenario, scale: Scale) -> list[str]:
    """Scenario fields that count cases in absolute numbers, which a reduced-scale run does not rescale."""
    if scale.factor >= 1:
        return []
    found = []
    for day, containment in scenario.resolved_periods():
        for name in ABSOLUTE_TRIGGERS:
            value = getattr(containment.zoning, name)
            if containment.zoning.enabled and value is not None and name not in [f[0] for f in found]:
                found.append((name, value, day))
    return [f"containment.zoning.{name} = {value} (from day {day}) counts cases in the model's {scale.population:,} "
            f"agents, not in the city; at {scale.share()} scale the real-city equivalent is {value / scale.factor:,.0f} "
            f"-- set it to {max(1, round(value * scale.factor))} for the real threshold, or use the _per_100k field"
            for name, value, day in found]


# -- running pyabc -------------------------------------------------------------------------------------
@contextmanager
def _seeded_global_numpy(seed: int):
    """pyabc draws from NumPy's legacy global generator; seed it for this call only, then restore it.

    (zerosim itself never uses the global generator; this is the one place that has to, so that a
    single-core calibration with the same --seed is repeatable.)
    """
    state = np.random.get_state()
    np.random.seed(int(np.random.SeedSequence(seed).generate_state(1)[0]))
    try:
        yield
    finally:
        np.random.set_state(state)


class _ProgressHandler(logging.Handler):
    """Turns pyabc's log lines into ``on_event`` calls (and keeps them off the console)."""

    _generation = re.compile(r"^t: (\d+), eps: ([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?|inf)")
    _accepted = re.compile(r"^Accepted: (\d+) / (\d+) = ([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)")

    def __init__(self, on_event: Callable[..., None] | None):
        super().__init__(level=logging.INFO)
        self.on_event = on_event
        self.t = -1

    def emit(self, record: logging.LogRecord) -> None:
        if self.on_event is None:
            return
        message = record.getMessage()
        if (match := self._generation.match(message)) is not None:
            self.t = int(match.group(1))
            self.on_event("generation", t=self.t, epsilon=float(match.group(2)))
        elif (match := self._accepted.match(message)) is not None:
            self.on_event("accepted", t=self.t, accepted=int(match.group(1)), samples=int(match.group(2)),
                          rate=float(match.group(3)))


@contextmanager
def _pyabc_logging(on_event):
    logger = logging.getLogger("ABC")
    handler = _ProgressHandler(on_event)
    saved = (logger.level, logger.propagate, list(logger.handlers))
    logger.handlers = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        logger.handlers = saved[2]


class _CountingModel:
    """Wraps the particle model to report each finished simulation (single-core sampler only)."""

    def __init__(self, model: ParticleModel, on_event):
        self.model = model
        self.on_event = on_event
        self.count = 0

    def __call__(self, parameter):
        result = self.model(parameter)
        self.count += 1
        if self.on_event is not None:
            self.on_event("simulation", count=self.count)
        return result


@contextmanager
def dask_client(settings: Settings):
    """A Dask client: on the cluster at ``settings.scheduler``, or on a LocalCluster of ``settings.workers``
    processes (closed afterwards). Yields (client, label)."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    try:
        if settings.scheduler:
            client = Client(settings.scheduler, timeout="20s")
            label = f"dask at {settings.scheduler}"
        else:
            cluster = LocalCluster(n_workers=settings.workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
            label = f"dask LocalCluster, {settings.workers} workers"
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"--scheduler: cannot reach '{settings.scheduler}' ({str(error)[:80]}); check the address") \
            from None
    try:
        yield client, label
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def uses_dask(settings: Settings) -> bool:
    return settings.scheduler is not None or settings.workers > 1


@contextmanager
def _sampler(settings: Settings):
    """The pyabc sampler: single-core; or Dask (a LocalCluster of ``workers`` processes, or ``scheduler``)."""
    import pyabc

    if not uses_dask(settings):
        yield pyabc.sampler.SingleCoreSampler(), "single-core"
        return
    with dask_client(settings) as (client, label):
        yield pyabc.sampler.DaskDistributedSampler(dask_client=client, batch_size=1), label


@dataclass
class CalibrationResult:
    """What :func:`calibrate` produced."""

    out_dir: Path
    posterior: pd.DataFrame
    predictive: pd.DataFrame
    info: dict
    scale: Scale
    figures: list[Path] = field(default_factory=list)

    @property
    def statement(self) -> str:
        return self.scale.statement()


def weighted_quantiles(values, weights, quantiles=QUANTILES) -> np.ndarray:
    """Quantiles of a weighted sample (linear interpolation of the weighted CDF at the midpoints)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    keep = weights > 0
    values, weights = values[keep], weights[keep]
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = (np.cumsum(weights) - 0.5 * weights) / weights.sum()
    return np.interp(np.asarray(quantiles, dtype=np.float64), cumulative, values)


def calibrate(
    scenario,
    data,
    settings: Settings,
    *,
    out: str | Path,
    overrides: dict | None = None,
    force: bool = False,
    figures: bool = True,
    on_event: Callable[..., None] | None = None,
) -> CalibrationResult:
    """Fit ``settings.priors`` to the observed series ``data`` with ABC-SMC; write the outputs into ``out``.

    Parameters
    ----------
    scenario : Scenario, built-in name or YAML path (``overrides`` applied first)
    data : path or built-in name of the observed CSV, or ObservedData
    settings : priors and fit options (:meth:`Settings.build`)
    out : directory for the outputs (refused if it holds a calibration, unless ``force``)
    on_event : progress callback ``on_event(kind, **info)``; kinds: ``ready`` (problem checked),
        ``generation`` (t, epsilon), ``accepted`` (t, accepted, samples, rate), ``simulation``
        (count; single-core only), ``writing``
    """
    require_pyabc()
    import pyabc

    problem = load_problem(scenario, data, settings, overrides)
    from zerosim.experiments.ensemble import check_memory

    # before the folder is touched (clear=True) and before any worker starts: the cities built at once fit
    check_memory(problem.scenario.population.size, 1 if settings.scheduler else settings.workers + 1)
    out_dir = prepare_out_dir(out, force, CALIBRATION_FILES, "a calibration", clear=True)
    if on_event:
        on_event("ready", statement=problem.scale.statement(), observe=problem.model.observe,
                 window=f"{problem.start_date + timedelta(days=problem.model.first_day)} .. {problem.until}",
                 warnings=problem.warnings)
    started = time.perf_counter()
    # The parent process builds the city once (single-core runs reuse it; workers build their own).
    from zerosim.experiments.calibrate.model import pristine_city

    pristine_city(problem.scenario.population, problem.scenario.seed)
    distance = SeriesDistance(settings.smooth_days, settings.district_weight, settings.total_weight)
    with _sampler(settings) as (sampler, sampler_label):
        model = problem.model if sampler_label != "single-core" else _CountingModel(problem.model, on_event)
        abc = pyabc.ABCSMC(model, pyabc_prior(problem.priors), distance, population_size=settings.particles,
                           sampler=sampler, eps=pyabc.epsilon.QuantileEpsilon(alpha=0.5))
        database = out_dir / "abc.db"
        with _pyabc_logging(on_event), _seeded_global_numpy(settings.seed):
            abc.new(f"sqlite:///{database.resolve()}", problem.observed_window)
            history = abc.run(minimum_epsilon=settings.min_epsilon, max_nr_populations=settings.generations,
                              max_walltime=timedelta(minutes=settings.max_minutes),
                              min_acceptance_rate=MIN_ACCEPTANCE_RATE)
    wall_seconds = time.perf_counter() - started
    if on_event:
        on_event("writing")
    return _write_outputs(problem, history, out_dir, wall_seconds, sampler_label, figures)


# -- outputs --------------------------------------------------------------------------------------------
def _posterior_tables(problem: Problem, history) -> tuple[pd.DataFrame, pd.DataFrame]:
    """posterior (one row per particle) and trajectories (particle x day) of the last generation."""
    t = int(history.max_t)
    population = history.get_population(t)
    rows, trajectories = [], []
    model = problem.model
    start = np.datetime64(problem.start_date, "D")
    total = sum(particle.weight for particle in population.particles)
    for index, particle in enumerate(population.particles):
        values = model.values(particle.parameter)
        statistics = particle.sum_stat
        seed = int(np.asarray(statistics["seed"]).ravel()[0])
        rows.append({"particle": index, **values, "weight": particle.weight / total,
                     "distance": float(particle.distance), "seed": seed, "generation": t})
        raw = np.asarray(statistics["raw"], dtype=np.float64)
        days = np.arange(raw.size, dtype=np.int32)
        share = model.ascertainment(values)
        trajectories.append(pd.DataFrame({
            "particle": index, "day": days, "date": (start + days.astype("timedelta64[D]")).astype("datetime64[ms]"),
            "model_count": raw, "reported_model_scale": share * raw,
            "reported": share * raw / problem.scale.factor,
        }))
    posterior = pd.DataFrame(rows)
    posterior = posterior.astype({"seed": "int64", "generation": "int32", "particle": "int32"})
    return posterior, pd.concat(trajectories, ignore_index=True)


def _predictive(problem: Problem, posterior: pd.DataFrame, trajectories: pd.DataFrame) -> pd.DataFrame:
    """Per day of the fit window: observed cases and quantiles of the predicted reported cases (city scale)."""
    model = problem.model
    weights = posterior.set_index("particle")["weight"]
    wide = trajectories.pivot(index="day", columns="particle", values="reported")
    wide = wide.loc[model.first_day:model.until_day]
    w = weights.reindex(wide.columns).to_numpy()
    bands = np.vstack([weighted_quantiles(row, w) for row in wide.to_numpy()])
    dates = pd.Timestamp(problem.start_date) + pd.to_timedelta(wide.index, unit="D")
    observed = problem.observed.cases.reindex(dates)
    frame = pd.DataFrame({"day": wide.index.astype(np.int32), "date": dates.astype("datetime64[ms]"),
                          "observed": observed.to_numpy(), "observed_model_scale": observed.to_numpy() * problem.scale.factor})
    for q, column in zip(QUANTILES, bands.T):
        frame[f"q{round(q * 100):02d}"] = column
    return frame


def _fitted_yaml(problem: Problem, medians: dict, info: dict) -> str:
    """The scenario with the posterior medians applied, with a header saying what and at what scale."""
    values = {path: value for path, value in medians.items() if path != ASCERTAINMENT}
    scenario = problem.model.scenario(values)
    scenario = scenario.model_copy(update={
        "name": f"{scenario.name}-fitted",
        "description": (f"{scenario.description} Fitted by zerosim calibrate to {problem.observed.source} "
                        f"up to {problem.until} ({problem.scale.statement()}).").strip(),
    })
    header = [
        "# Fitted by `zerosim calibrate` (posterior medians); see calibration.json for the intervals.",
        f"# Data: {problem.observed.source} up to {problem.until}; observed series: {problem.model.observe}.",
        f"# {problem.scale.statement()} -- counts such as seeding are at this scale.",
    ]
    if ASCERTAINMENT in medians:
        header.append(f"# Ascertainment (share of model cases reported; not a scenario field): "
                      f"{medians[ASCERTAINMENT]:.3g}")
    header += [f"#   {path}: {value}" for path, value in values.items()]
    return "\n".join(header) + "\n" + scenario.to_yaml()


def _write_outputs(problem: Problem, history, out_dir: Path, wall_seconds: float, sampler_label: str,
                   figures: bool) -> CalibrationResult:
    from zerosim import __version__

    posterior, trajectories = _posterior_tables(problem, history)
    predictive = _predictive(problem, posterior, trajectories)
    populations = history.get_all_populations()
    populations = populations[populations["t"] >= 0]
    generations = [{"t": int(row.t), "epsilon": float(row.epsilon), "samples": int(row.samples),
                    "particles": int(row.particles), "acceptance_rate": float(row.particles / row.samples),
                    "wall_time_seconds": round(float(row.wall_time), 3)} for row in populations.itertuples()]
    samples = int(history.total_nr_simulations)
    weights = posterior["weight"].to_numpy()
    summary = {}
    medians = {}
    for prior in problem.priors:
        q05, q50, q95 = weighted_quantiles(posterior[prior.path], weights, (0.05, 0.5, 0.95))
        summary[prior.path] = {"q05": float(q05), "q50": float(q50), "q95": float(q95),
                               "mean": float(np.average(posterior[prior.path], weights=weights)),
                               "prior": prior.text, "integer": prior.integer}
        medians[prior.path] = prior.cast(q50)
    settings = problem.settings
    last = generations[-1] if generations else {}
    if len(generations) >= settings.generations:
        stopped = f"reached --generations {settings.generations}"
    elif last and last["epsilon"] <= settings.min_epsilon:
        stopped = f"epsilon reached --min-epsilon {settings.min_epsilon:g}"
    elif wall_seconds >= settings.max_minutes * 60:
        stopped = f"reached --max-minutes {settings.max_minutes:g}"
    elif last and last["acceptance_rate"] < MIN_ACCEPTANCE_RATE:
        stopped = f"acceptance rate fell below {MIN_ACCEPTANCE_RATE:g}"
    else:
        stopped = "pyabc stopped"
    first_date = problem.start_date + timedelta(days=problem.model.first_day)
    info = {
        "scenario": problem.scenario.name,
        "data": problem.observed.source,
        "observe": problem.model.observe,
        "start_date": str(problem.start_date),
        "fit_window": {"first_date": str(first_date), "until": str(problem.until),
                       "first_day": problem.model.first_day, "until_day": problem.model.until_day},
        "districts": problem.observed.districts,
        "scale": problem.scale.as_dict(),
        "priors": [{"path": p.path, "distribution": p.distribution, "a": p.a, "b": p.b, "integer": p.integer}
                   for p in problem.priors],
        "distance": {"smooth_days": settings.smooth_days, "district_weight": settings.district_weight,
                     "total_weight": settings.total_weight,
                     "definition": "RMSE of log1p(daily reported cases, trailing mean over smooth_days) over the fit "
                                   "window + district_weight x total-variation distance of the split by district "
                                   "+ total_weight x |log1p(window total, model) - log1p(window total, data)|"},
        "method": "ABC-SMC (pyabc), median-quantile epsilon schedule, multivariate normal transitions",
        "particles": settings.particles,
        "generations": generations,
        "epsilon_schedule": [g["epsilon"] for g in generations],
        "acceptance": {"final_generation": last.get("acceptance_rate"),
                       "overall": (len(generations) * settings.particles / samples) if samples else None},
        "simulations": samples,
        "stopped": stopped,
        "wall_time_seconds": round(wall_seconds, 2),
        "sampler": sampler_label,
        "seed": settings.seed,
        "posterior": summary,
        "posterior_median": medians,
        "warnings": problem.warnings,
        "history": "abc.db",
        "zerosim_version": __version__,
    }
    try:
        posterior.to_parquet(out_dir / "posterior.parquet", index=False)
        trajectories.to_parquet(out_dir / "posterior_trajectories.parquet", index=False)
        predictive.to_parquet(out_dir / "posterior_predictive.parquet", index=False)
        (out_dir / "base_scenario.yaml").write_text(problem.scenario.to_yaml())
        (out_dir / "fitted.yaml").write_text(_fitted_yaml(problem, medians, info))
        (out_dir / "calibration.json").write_text(json.dumps(info, indent=2, default=str) + "\n")
    except OSError as error:
        raise OutputError(f"--out: writing the calibration to '{out_dir}' failed ({error.strerror}); "
                          f"check the disk") from None
    result = CalibrationResult(out_dir, posterior, predictive, info, problem.scale)
    if figures:
        from zerosim.viz.inference_figures import posterior_predictive_figure

        result.figures.append(posterior_predictive_figure(predictive, problem.observed.cases, info,
                                                          out_dir / "posterior_predictive.png"))
    return result
