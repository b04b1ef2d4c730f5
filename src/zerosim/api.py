"""The Python API: build a model from a scenario, run it, and write its outputs.

Sits above every layer (it assembles them); the CLI is a thin shell over :func:`run`.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np

from zerosim import __version__
from zerosim.engine.component import kind_of
from zerosim.engine.registry import COMPONENTS, component_class
from zerosim.engine.schedule import Scheduled
from zerosim.engine.simulation import Simulation
from zerosim.errors import InputError, RunDirError, ScenarioError
from zerosim.io.checkpoint import CHECKPOINT_INDEX, read_checkpoint, remove_checkpoint, save_checkpoint
from zerosim.io.results import (
    Results,
    build_tables,
    events_table,
    exclusive,
    prepare_out_dir,
    remove_run_files,
    summarise,
    write_atomic,
    write_results,
    write_summary,
)
from zerosim.io.scenario import Scenario, apply_overrides, load_scenario
from zerosim.ledger.summary import confinement_days_table, ledger_totals, pressure_table
from zerosim.population.state import PopulationState, bytes_per_agent
from zerosim.population.synthesis import build_population, check_fits_in_memory


def build(scenario: Scenario, population: PopulationState | None = None,
          extra: Sequence | Callable[[frozenset[str]], Sequence] = ()) -> Simulation:
    """Population plus components of ``scenario``, ready to run (``population`` reuses a built city;
    ``extra`` components are added to the scenario's, as the region adds its travel screening; a
    callable gets the kinds of the scenario's components and returns them)."""
    state = population if population is not None else build_population(scenario.population, scenario.seed)
    disease = scenario.disease.resolve()
    behaviour = scenario.resolved_behaviour()
    plan = [component_class("behaviour")(config=behaviour)] if behaviour.enabled else []
    policies = policy_components(scenario, disease)
    plan += policies + [
        component_class("transmission")(config=scenario.transmission, disease=disease, seeding=tuple(scenario.seeding)),
        component_class("disease")(config=disease, hospitalised_transmit=scenario.transmission.hospitalised_transmit),
        component_class("ledger")(config=scenario.resolved_ledger(),
                                  pressure_confined_days=behaviour.pressure_confined_days,
                                  has_containment=bool(policies) or behaviour.enabled),
    ]
    plan += extension_components(scenario)
    if callable(extra):
        extra = extra(frozenset(kind_of(component) for component in plan))
    plan += list(extra)
    return Simulation(state, plan, days=scenario.duration_days, seed=scenario.seed)


def extension_components(scenario: Scenario) -> list:
    """The components from installed packages that ``scenario.components`` switches on, each made by its
    class's ``from_config(config, scenario)`` (or ``cls(config=config)``)."""
    made = []
    for cls, config in scenario.resolved_components():
        factory = getattr(cls, "from_config", None)
        made.append(factory(config, scenario) if factory is not None else cls(config=config))
    return made


def _containment_parts(containment, disease, kinds: set[str] | None = None) -> dict:
    """kind -> component for one containment config; ``kinds`` forces kinds in even when switched
    off (a dormant component lifts what it had imposed).

    The parts are the registry's components that make themselves from a containment config
    (``switched_on(containment)``, ``from_containment(containment, disease)``), in registry order (their
    daily order); one that ``follows_containment`` (Confinement) joins whenever any other part runs. A part
    that lists kinds in ``runs_with`` brings them in, dormant if switched off (closures read the zone levels
    that zoning keeps).
    """
    parts, followers = {}, []
    classes = [(kind, component_class(kind)) for kind in COMPONENTS]
    classes = [(kind, cls) for kind, cls in classes if hasattr(cls, "from_containment")]
    wanted = set(kinds or ())
    for _, cls in classes:
        if not getattr(cls, "follows_containment", False) and cls.switched_on(containment):
            wanted |= set(getattr(cls, "runs_with", ()))
    for kind, cls in classes:
        if getattr(cls, "follows_containment", False):
            followers.append(cls)
        elif cls.switched_on(containment) or kind in wanted:
            parts[kind] = cls.from_containment(containment, disease)
    if parts:
        for cls in followers:
            parts[cls.kind] = cls.from_containment(containment, disease)
    return parts


def policy_components(scenario: Scenario, disease) -> list:
    """The containment components a scenario's policy switches on, in their daily order.

    With a ``timeline``, each kind used in any period runs in every period (dormant where that
    period switches it off) and changes its configuration on the timeline's days.
    """
    periods = scenario.resolved_periods()
    if len(periods) == 1:
        return list(_containment_parts(periods[0][1], disease).values())
    kinds = set().union(*(_containment_parts(config, disease).keys() for _, config in periods))
    per_period = [(day, _containment_parts(config, disease, kinds)) for day, config in periods]
    order = [kind for kind in per_period[0][1]]
    return [Scheduled([(day, parts[kind]) for day, parts in per_period]) for kind in order]


def git_revision() -> str | None:
    """The short git revision of the installed source tree, or None outside a git checkout."""
    try:
        output = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return output.stdout.strip() or None


def preflight(scenario: Scenario, out: str | Path | None, force: bool, baseline: str | Path | None = None) -> Path | None:
    """Checks done before any work: the city fits in memory, ``baseline`` is a run, ``out`` is usable."""
    if baseline is not None and not (Path(baseline) / "summary.json").exists():
        raise RunDirError(f"--baseline: '{baseline}' holds no summary.json; give a directory written by zerosim run")
    check_fits_in_memory(scenario.population.size)
    return prepare_out_dir(out, force) if out is not None else None


#: The checkpoint's index file (its arrays are in ``checkpoint-<token>.npz``; see :mod:`zerosim.io.checkpoint`).
CHECKPOINT_FILE = CHECKPOINT_INDEX

def run(
    scenario: Scenario | str | Path,
    *,
    overrides: Mapping[str, Any] | None = None,
    out: str | Path | None = None,
    force: bool = False,
    figures: bool | None = None,
    checkpoint_every: int | None = None,
    baseline: str | Path | None = None,
    report: bool = False,
    on_phase: Callable[[str], None] | None = None,
    on_day: Callable[[int], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Results:
    """Run a scenario and return its results; write them to ``out`` when given.

    Parameters
    ----------
    scenario : Scenario, built-in name or path to a YAML file
    overrides : mapping of dotted field -> value, applied before validation
    out : directory for the run's files; checked before any work, never overwritten without ``force``
    figures : write PNG figures (default: the scenario's ``outputs.figures``)
    checkpoint_every : with ``out``, every this many days write a checkpoint (``checkpoint.json`` and
        ``checkpoint-<token>.npz``, see :mod:`zerosim.io.checkpoint`) and the tables so far, so a
        killed run keeps what was done and :func:`resume` can finish it
    baseline : a run directory to compare with: summary.json's ``ledger`` then also holds the extra
        cost per infection and per death averted (``per_averted``)
    report : with ``out``, also write ``<out>/report.html``, one self-contained HTML page of the run
        (:func:`zerosim.report.write_report`)
    on_phase, on_day : progress callbacks ("building population", ...; each finished day)
    on_progress : called after each day with (day, infections so far), for progress lines
    """
    if report and out is None:
        raise InputError("--report: needs --out; give a directory for the run and its report")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario, dict(overrides or {}))
    elif overrides:
        scenario = apply_overrides(scenario, overrides)
    if checkpoint_every is not None and checkpoint_every < 1:
        raise ScenarioError(f"--checkpoint-every: must be >= 1 day, got {checkpoint_every}; give a whole number of days")
    out_dir = preflight(scenario, out, force, baseline)
    with exclusive(out_dir) if out_dir is not None else nullcontext():
        if out_dir is not None:
            if force:
                remove_run_files(out_dir)  # the earlier run's files (summary.json first), and only those
            write_atomic(out_dir / "scenario.yaml", lambda path: path.write_text(scenario.to_yaml()))
        return _run_simulation(scenario, out_dir, figures, checkpoint_every, baseline, report, on_phase, on_day,
                               on_progress)


def _run_simulation(scenario: Scenario, out_dir: Path | None, figures, checkpoint_every, baseline, report,
                    on_phase, on_day, on_progress=None) -> Results:
    started = time.perf_counter()
    if on_phase:
        on_phase("building population")
    simulation = build(scenario)
    simulation.setup()
    timing = {"build_seconds": time.perf_counter() - started, "simulation_seconds": 0.0}
    if on_phase:
        on_phase("simulating")
    _simulate(scenario, simulation, 0, timing, out_dir, checkpoint_every, on_day, on_progress)
    return finish_run(scenario, simulation, timing, out_dir, figures, on_phase, baseline, report)


def resume(
    run_dir: str | Path,
    *,
    figures: bool | None = None,
    report: bool = False,
    on_phase: Callable[[str], None] | None = None,
    on_day: Callable[[int], None] | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Results:
    """Continue a run killed after a checkpoint; the final results equal an uninterrupted run's.

    The checkpoint (arrays and JSON, never pickle) is checked before any work: a missing, malformed,
    other-version or other-scenario checkpoint raises a one-line CheckpointError (exit 2).
    """
    run_dir = Path(run_dir)
    read_checkpoint(run_dir)  # the folder and its checkpoint are checked before the lock is taken
    with exclusive(run_dir):
        return _resume_locked(run_dir, figures, report, on_phase, on_day, on_progress)


def _resume_locked(run_dir: Path, figures, report, on_phase, on_day, on_progress=None) -> Results:
    checkpoint = read_checkpoint(run_dir)  # again, under the lock: another run may have finished it meanwhile
    scenario, timing = checkpoint.scenario, checkpoint.timing
    check_fits_in_memory(scenario.population.size)
    if on_phase:
        on_phase("building population")
    simulation = build(scenario)
    simulation.setup()
    checkpoint.restore(simulation)
    if on_phase:
        on_phase("simulating")
    _simulate(scenario, simulation, checkpoint.next_day, timing, run_dir, checkpoint.every, on_day, on_progress)
    return finish_run(scenario, simulation, timing, run_dir, figures, on_phase, report=report)


def _simulate(scenario, simulation: Simulation, start_day: int, timing: dict, out_dir: Path | None,
              checkpoint_every: int | None, on_day, on_progress=None) -> None:
    """Run the days from ``start_day`` (:meth:`Simulation.run`), checkpointing every k days when asked."""
    checkpoints = _Checkpoints(scenario, simulation, timing, out_dir, checkpoint_every)
    hooks = [checkpoints] if out_dir is not None and checkpoint_every else []
    if on_progress is not None:
        hooks.append(lambda day: on_progress(day, _infections_so_far(simulation, day)))
    simulation.run(on_day, start_day, after_day=hooks)
    checkpoints.stop_clock()


def _infections_so_far(simulation: Simulation, day: int) -> int:
    """Infections from day 0 to ``day`` (-1 when the run records no ``new_infections``)."""
    new_infections = simulation.recorder.scalars.get("new_infections")
    return int(new_infections[: day + 1].sum()) if new_infections is not None else -1


class _Checkpoints:
    """An after-day hook: every ``every`` days (not after the last) it writes the tables so far and a checkpoint.

    It also keeps ``timing["simulation_seconds"]``: the time up to each checkpoint is added before the
    checkpoint is saved, so a resumed run goes on counting from there.
    """

    def __init__(self, scenario: Scenario, simulation: Simulation, timing: dict, out_dir: Path | None,
                 every: int | None):
        self.scenario, self.simulation, self.timing = scenario, simulation, timing
        self.out_dir, self.every = out_dir, every
        self.clock = time.perf_counter()

    def __call__(self, day: int) -> None:
        finished_days = day + 1
        if finished_days % self.every or finished_days >= self.simulation.days:
            return
        self.stop_clock()
        _flush_tables(self.scenario, self.simulation, self.out_dir)
        save_checkpoint(self.out_dir, self.scenario, self.simulation, self.timing, finished_days, self.every)

    def stop_clock(self) -> None:
        """Add the time since the last stop to ``simulation_seconds``."""
        now = time.perf_counter()
        self.timing["simulation_seconds"] += now - self.clock
        self.clock = now


def _per_averted(baseline: str | Path, summary: dict) -> dict:
    """Extra cost of this run over ``baseline`` per infection and per death averted, by main cost."""
    from types import SimpleNamespace

    from zerosim.io.compare import compare_runs

    comparison = compare_runs([Path(baseline), SimpleNamespace(summary=summary)], baseline=0)
    result: dict = {"baseline": str(baseline), "warnings": list(comparison.warnings)}
    for row in comparison.per_averted.to_dict("records"):
        result[row["cost"]] = {
            "extra_cost": row["extra_cost"], "unit": row["unit"],
            "infections_averted": row["infections_averted"], "deaths_averted": row["deaths_averted"],
            "per_infection_averted": row["per_infection_averted"], "per_death_averted": row["per_death_averted"],
        }
    return result


def _flush_tables(scenario: Scenario, simulation: Simulation, out_dir: Path) -> None:
    """Write the time series recorded so far (a killed run keeps what was done)."""
    recorder, state = simulation.recorder, simulation.state
    timeseries, by_district, _, ledger = build_tables(
        scenario, recorder.scalars, recorder.by_district, recorder.by_age_band, state.district_names,
        recorder.days_recorded, recorder.ledger,
    )
    for name, frame in (("timeseries.parquet", timeseries), ("by_district.parquet", by_district),
                        ("ledger.parquet", ledger)):
        if len(frame.columns):
            write_atomic(out_dir / name, lambda path, frame=frame: frame.to_parquet(path, index=False))


#: Below this many seeded agents a run's outcome rests on the luck of a few chains (scale_notes says so).
FEW_SEEDED = 10


def scale_notes(scenario: Scenario) -> list[str]:
    """Plain sentences on what a reduced-scale run cannot keep (empty at full scale)."""
    from zerosim.population.synthesis import city_profile, unit_sizes

    city = scenario.population.city
    real_population = city_profile(city).population_2020
    size = scenario.population.size
    if size >= 0.9 * real_population:
        return []
    notes = []
    sizes = unit_sizes(city, size)
    model_sub, real_sub = sizes["subdistrict"]
    if model_sub < 0.5 * real_sub:
        grid = np.geomspace(10_000, real_population, 200).astype(int)  # one grid for every size: one answer
        smallest = next((int(n) for n in grid[grid > size]
                         if unit_sizes(city, int(n))["subdistrict"][0] >= 0.5 * real_sub), real_population)
        notes.append(f"at this size a subdistrict holds {model_sub:,.0f} people against {real_sub:,.0f} in the real "
                     f"city: zone rules acting on a subdistrict use neighbourhoods of the real size (they cross "
                     f"district lines), and community contacts stay in units {real_sub / model_sub:.1f}x too small; "
                     f"run with --population {smallest:,} or more to keep both")
    absolute = sorted({name for _, containment in scenario.resolved_periods()
                       for name in ("district_sealed_after_cases", "city_sealed_after_cases")
                       if getattr(containment.zoning, name) is not None})
    model_district, real_district = sizes["district"]
    if absolute:
        notes.append(f"a district holds {model_district:,.0f} people against {real_district:,.0f} in the real city; "
                     f"{', '.join('zoning.' + a for a in absolute)} count cases, not cases per head, so they trigger "
                     f"at {real_district / model_district:.0f}x the real rate per head: give the *_per_100k form")
    for k, seeding in enumerate(scenario.seeding):
        seeded, real_seeded = seeding.resolved_count(size), seeding.resolved_count(real_population)
        if seeding.per_100k is not None and seeded < FEW_SEEDED < real_seeded:
            enough = int(np.ceil(FEW_SEEDED / seeding.per_100k * 1e5))
            notes.append(f"seeding.{k} places {seeded} agent{'s' * (seeded != 1)} ({seeding.per_100k:g} per 100,000) "
                         f"where the real city had {real_seeded:,}: whether so few chains die out, or take off early "
                         f"or late, decides the run, so its per-head results vary with --seed far more than the real "
                         f"city's would; run with --population {enough:,} or more to seed {FEW_SEEDED}")
    counted = [k for k, seeding in enumerate(scenario.seeding) if seeding.per_100k is None]
    if counted:
        fields = ", ".join(f"seeding.{k}.count" for k in counted)
        notes.append(f"{fields}: a number of people, not a share: at 1/{real_population / size:.0f} scale it seeds "
                     f"{real_population / size:.0f}x as many per head as in the real city; give per_100k instead")
    return notes


def _severity_summary(state: PopulationState, by_age_band) -> dict:
    """Infection fatality by age band (deaths / people infected, null where nobody was) and outcomes by doses."""
    from zerosim.disease.components import outcomes_by_doses

    result: dict = {}
    if len(by_age_band) and "ever_infected" in by_age_band:
        last = by_age_band[by_age_band["day"] == by_age_band["day"].max()]
        result["ifr_by_age_band"] = {
            str(band): (round(float(dead) / float(infected), 6) if infected else None)
            for band, dead, infected in zip(last["age_band"], last["dead"], last["ever_infected"])}
    result.update(outcomes_by_doses(state))
    return result


def _declared_totals(simulation: Simulation, summary: dict) -> dict:
    """What the components declare about their time-series columns: ``measures`` (label, unit, aggregate and
    component of each) and, for each with an aggregate, its run total under its own name."""
    declared = [(kind, measure) for kind, measure in simulation.measures.values() if measure.table == "timeseries"]
    if not declared:
        return {}
    result: dict = {"measures": {measure.column: measure.describe(kind) for kind, measure in declared}}
    recorder = simulation.recorder
    for kind, measure in declared:
        daily = recorder.scalars.get(measure.column)
        if measure.aggregate and daily is not None and measure.column not in summary:
            total = measure.total(daily[: recorder.days_recorded])
            result[measure.column] = int(total) if float(total).is_integer() and measure.aggregate != "mean" else total
    return result


def finish_run(scenario: Scenario, simulation: Simulation, timing: dict, out_dir: Path | None = None,
               figures: bool | None = None, on_phase: Callable[[str], None] | None = None,
               baseline: str | Path | None = None, report: bool = False) -> Results:
    """Tables, summary and files of a finished simulation: what :func:`run` returns and writes.

    Parameters
    ----------
    scenario : the scenario ``simulation`` was built from
    simulation : a Simulation stepped to its last day (by :func:`run`, :func:`resume` or a region)
    timing : ``{"build_seconds": s, "simulation_seconds": s}``, reported in summary.json
    out_dir : a prepared run directory to write into (None: results in memory only)
    figures, on_phase, baseline, report : as for :func:`run`
    """
    recorder = simulation.recorder
    state = simulation.state
    timeseries, by_district, by_age_band, ledger = build_tables(
        scenario, recorder.scalars, recorder.by_district, recorder.by_age_band, state.district_names, recorder.days_recorded,
        recorder.ledger,
    )
    population_by_district = dict(zip(state.district_names, np.diff(state.groups.district_start).tolist()))
    extra = {
        "variant": scenario.disease.variant,
        "policy": scenario.policy,
        "policy_label": scenario.resolved_containment().label,
        "r0": scenario.transmission.r0 if scenario.transmission.r0 is not None else scenario.disease.resolve().r0,
        "build_seconds": round(timing["build_seconds"], 3),
        "simulation_seconds": round(timing["simulation_seconds"], 3),
        "state_bytes_per_agent": round(state.nbytes() / state.size, 1),
        "schema_bytes_per_agent": bytes_per_agent(),
        "households": state.groups.household_count,
        "buildings": state.groups.building_count,
        "compounds": state.groups.compound_count,
        "subdistricts": state.groups.subdistrict_count,
        "districts": state.groups.district_count,
        "workplaces": state.groups.workplace_count,
        "schools": state.groups.school_count,
        "population_by_district": population_by_district,
        "scenario_hash": scenario.digest(),
        "zerosim_version": __version__,
        "git_revision": git_revision(),
    }
    runtime = timing["build_seconds"] + timing["simulation_seconds"]
    summary = summarise(scenario, timeseries, state.size, runtime, extra)
    summary.update(_severity_summary(state, by_age_band))
    summary.update(_declared_totals(simulation, summary))
    if scenario.components:
        summary["extensions"] = list(scenario.components)  # components from installed packages, by kind
    summary["scale_notes"] = scale_notes(scenario)
    summary["ledger"] = ledger_totals(state, timeseries, scenario.resolved_ledger())
    if baseline is not None:
        summary["ledger"]["per_averted"] = _per_averted(baseline, summary)
    log = state.stores.get("zone_events")
    results = Results(scenario, summary, timeseries, by_district, by_age_band,
                      events=events_table(log.to_columns() if log is not None else None), ledger=ledger,
                      pressure=pressure_table(state), confinement_days=confinement_days_table(state))
    if out_dir is not None:
        if on_phase:
            on_phase("writing results")
        write_results(results, out_dir, summary=False)
        if figures if figures is not None else scenario.outputs.figures:
            from zerosim.viz.figures import write_run_figures
            from zerosim.viz.ledger_figures import write_ledger_figures

            results.figures = write_run_figures(out_dir, timeseries, by_district, summary)
            results.figures += write_ledger_figures(out_dir, results)
        write_summary(results, out_dir)  # last: summary.json marks the folder as one complete run
        remove_checkpoint(out_dir)  # the run is complete; the results supersede it
        if report:
            from zerosim.report import write_report

            if on_phase:
                on_phase("writing report")
            results.report = write_report([out_dir], out_dir / "report.html")
    return results
