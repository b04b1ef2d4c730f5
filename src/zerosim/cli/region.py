"""CLI layer: the region branch of ``zerosim run``, ``zerosim scenarios`` and ``zerosim ensemble``.

Commands stay in ``app.py``; this module holds what they do when the scenario is ``kind: region``
(the Python API is :mod:`zerosim.region`).
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console


def is_region(scenario: str) -> bool:
    from zerosim.region.config import is_region_source

    return is_region_source(scenario)


def load_any(scenario: str, overrides: dict):
    """A region scenario if ``scenario`` is one, else an ordinary scenario (for ``zerosim ensemble``)."""
    if is_region(scenario):
        from zerosim.region.results import prepare

        return prepare(scenario, overrides)
    from zerosim.io.scenario import load_scenario

    return load_scenario(scenario, overrides)


def run_region_command(scenario: str, out: Path, overrides: dict, force: bool, figures: bool, quiet: bool,
                       console: Console, errors: Console) -> None:
    """``zerosim run <region>``: run it with a progress bar, print a table per city and where the files are."""
    from zerosim.io.results import prepare_out_dir
    from zerosim.numbers import money
    from zerosim.region.results import preflight, prepare, run_region

    region = prepare(scenario, overrides)
    preflight(region)
    prepare_out_dir(out, force)
    from zerosim.cli.progress import RunDisplay, compile_watch

    display = RunDisplay(errors, quiet=quiet, total_days=region.duration_days, description="building")

    def day_done(day: int) -> None:
        display.day(day)
        display.progress(day, -1)  # plain lines (a log or a pipe): days and time, no infection count

    with display, compile_watch(display.compiling):
        results = run_region(region, out=out, force=True, figures=figures, on_phase=display.phase, on_day=day_done)
    summary = results.summary
    if not quiet:
        from zerosim.cli._tables import Column, print_table

        columns = [Column("city")] + [Column(header, "right") for header in (
            "people", "scale", "infections", "deaths", "cases", "arrivals (infected)", "diverted in", "stranded days")]
        rows = []
        for name, city in summary["cities"].items():
            travel = city["travel"]
            rows.append([name, f"{city['population']:,}", f"{city['scale_fraction']:.3g}", f"{city['infections']:,}",
                         f"{city['deaths']:,}", f"{city['cases_detected']:,}",
                         f"{travel.get('arrivals', 0):,} ({travel.get('arrivals_infected', 0):,})",
                         f"{travel.get('diverted_in', 0):,}", f"{city['stranded_visitor_days']:,}"])
        print_table(console, columns, rows, title=f"zerosim region · {summary['scenario']}")
        travel = summary["travel"]
        console.print(f"diverted trips {travel['diverted_trips']:,}, turned away {travel['turned_away']:,}, "
                      f"arrival quarantine {travel['arrival_quarantine_central_person_days']:,} central + "
                      f"{travel['arrival_quarantine_home_person_days']:,} home person-days "
                      f"({money(travel['arrival_quarantine_cny'])})", highlight=False)
        for note in summary.get("notes", []):
            console.print(f"note: {note}", highlight=False)
        from zerosim.io.explain import explain_region

        for sentence in explain_region(summary):
            console.print(f"why: {sentence}", highlight=False, markup=False)
    console.print(f"results: {results.out_dir}/", highlight=False)
    for figure in results.figures:
        console.print(f"figure:  {figure}", highlight=False)


def region_entries() -> list[dict]:
    """The built-in region scenarios for ``zerosim scenarios``: name, people, days, variants, description."""
    from zerosim.region.config import load_region, region_builtin_names
    from zerosim.region.runner import resolve_cities

    entries = []
    for name in region_builtin_names():
        region = load_region(name)
        cities = resolve_cities(region)
        entries.append({
            "name": name, "kind": "region", "people": sum(city.scenario.population.size for city in cities),
            "days": region.duration_days, "variant": ", ".join(sorted({c.scenario.disease.variant for c in cities})),
            "cities": [city.name for city in region.cities], "description": " ".join(region.description.split()),
        })
    return entries
