"""IO layer: the run directory contract -- what a run writes and how it refuses to clobber results.

Layer ``io`` -- imports pandas/pyarrow and the layers below; never ``viz`` or ``cli``.

A run directory holds: ``summary.json``, ``timeseries.parquet`` (one row per day),
``by_district.parquet`` (day x district, long), ``by_age_band.parquet`` (day x age band, long),
``scenario.yaml`` (the fully resolved scenario) and PNG figures.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from zerosim.lazy import lazy_module

pd = lazy_module("pandas")  # imported when results are assembled, not during the daily loop

from zerosim.disease.config import AGE_BAND_LOWER_YEARS
from zerosim.engine.component import Total
from zerosim.errors import OutputDirError, OutputError, RunDirError, ZerosimError
from zerosim.io.paths import check_path
from zerosim.io.scenario import Scenario

#: Files whose presence marks a directory as holding results (never overwritten without force).
RESULT_FILES = ("summary.json", "timeseries.parquet", "by_district.parquet", "scenario.yaml")
#: Every file a run may write into its --out (figures included); ``--force`` removes these of an earlier
#: run, and only these, before the new run writes anything. ``summary.json`` is written last: it marks
#: a complete run. (The figures are named by the viz layer; a test checks the two lists agree.)
RUN_TABLES = ("timeseries.parquet", "by_district.parquet", "by_age_band.parquet", "events.parquet",
              "ledger.parquet", "pressure.parquet", "confinement_days.parquet")
RUN_FIGURES = ("epidemic_curve.png", "infections_by_district.png", "testing_and_backlog.png", "people_by_zone.png",
               "district_lockdown_grid.png", "confinement_distribution.png", "food_shortfall.png", "income_lost.png",
               "stores.png", "resistance_pressure.png")
RUN_FILES = ("summary.json", "scenario.yaml") + RUN_TABLES + RUN_FIGURES + ("report.html",)
#: The lock file a run holds (fcntl.flock) on its --out while it writes there.
LOCK_FILE = ".zerosim.lock"
#: The timeseries columns the contract fixes, first and in this order.
TIMESERIES_CONTRACT = (
    "day", "susceptible", "exposed", "infectious", "recovered", "dead", "new_infections", "new_deaths",
)
#: Containment columns (issue 3): always present, zero when no policy produces them.
POLICY_COLUMNS = (
    "tests_swabbed", "tubes_processed", "lab_backlog", "cases_detected", "false_positives", "in_isolation",
    "in_quarantine", "sealed", "controlled", "precaution", "waiting_for_bed", "city_sealed",
)
EVENT_COLUMNS = ("day", "scope", "zone_id", "zone_name", "event", "reason")
#: The run's headline totals in summary.json (made by :func:`summarise`), described once for ``compare``, the
#: report and the dashboard.
SUMMARY_TOTALS: tuple[Total, ...] = (
    Total("infections", "Infections", "people"),
    Total("deaths", "COVID deaths", "deaths"),
    Total("attack_rate", "Attack rate", "fraction"),
    Total("cases_detected", "Cases detected", "people"),
    Total("tests_swabbed", "People swabbed", "tests"),
    Total("tubes_processed", "Tubes processed by the lab", "tubes"),
    Total("max_in_isolation", "Most people in isolation on one day", "people"),
    Total("max_in_quarantine", "Most people in quarantine on one day", "people"),
    Total("peak_sealed_population", "Most people in sealed zones on one day", "people"),
    Total("city_sealed_days", "Days the whole city was sealed", "days"),
)


@dataclass
class Results:
    """Everything a run produced, in memory; ``out_dir`` is set when it was written."""

    scenario: Scenario
    summary: dict
    timeseries: pd.DataFrame
    by_district: pd.DataFrame
    by_age_band: pd.DataFrame
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame({c: [] for c in EVENT_COLUMNS}))
    ledger: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    pressure: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    confinement_days: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    out_dir: Path | None = None
    figures: list[Path] = field(default_factory=list)
    report: Path | None = None  # report.html, when the run was asked for one


def prepare_out_dir(out_dir: Path, force: bool, files: tuple[str, ...] = RESULT_FILES, holds: str = "results",
                    clear: bool = False) -> Path:
    """Create ``out_dir`` or check it is usable, before any work is done.

    ``files`` mark what the directory must not silently lose (``holds`` names them in the message);
    with ``force`` they may be overwritten, and with ``clear`` the ones present are deleted first.
    Raises OutputDirError if it holds such files (and not ``force``) or cannot be written.
    """
    out_dir = check_path(out_dir, "--out", OutputDirError)
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise OutputDirError(f"--out: '{out_dir}' is a file; give a directory path")
        present = [name for name in files if (out_dir / name).exists()]
    except OSError as error:
        raise OutputDirError(f"--out: cannot use '{out_dir}' ({error.strerror or error.__class__.__name__}); "
                             "choose another directory") from None
    if present and not force:
        raise OutputDirError(
            f"--out: '{out_dir}' already holds {holds} ({present[0]}); add --force to overwrite or choose another --out"
        )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if clear:
            for name in present:
                (out_dir / name).unlink()
        with tempfile.NamedTemporaryFile(dir=out_dir, prefix=".zerosim-write-test-"):
            pass
    except OSError as error:
        raise OutputDirError(
            f"--out: cannot write to '{out_dir}' ({error.strerror or error.__class__.__name__}); choose a writable directory"
        ) from None
    return out_dir


#: What :func:`read_json_bounded` raises on a file it cannot use.
JSON_READ_ERRORS = (OSError, UnicodeDecodeError, ValueError, RecursionError)


def read_json_bounded(path: Path, limit_bytes: int = 64 * 2**20):
    """The JSON value in ``path``, refusing files over ``limit_bytes`` (ValueError); raises one of
    :data:`JSON_READ_ERRORS` when the file is missing, too large, not UTF-8 or not JSON."""
    if Path(path).stat().st_size > limit_bytes:
        raise ValueError(f"larger than {limit_bytes // 2**20} MiB")
    return json.loads(Path(path).read_text(encoding="utf-8"))


#: Time-series columns that are fractional by nature (money, hours, expected counts, rates): always
#: float64, so that a column's type does not depend on whether its first days happened to be whole
#: numbers (a flushed partial table and the finished one agree).
FRACTIONAL_COLUMNS = frozenset({
    "turnaround_days", "transit_contact_scale", "ledger_income_lost_cny", "ledger_store_demand_lost",
    "ledger_testing_cny", "ledger_testing_staff_hours", "ledger_testing_queue_hours",
    "ledger_dialysis_sessions_missed", "ledger_emergencies_without_care", "ledger_births_without_care",
    "ledger_chemotherapy_patient_days_missed", "ledger_excess_non_covid_deaths", "ledger_resistance_pressure_max",
})


@contextmanager
def exclusive(out_dir: Path) -> Iterator[None]:
    """Hold ``out_dir``'s lock file (``fcntl.flock``) while the block runs; fail fast if another run holds it.

    Raises
    ------
    OutputDirError
        One line naming the folder (exit 2) if another zerosim process writes there now.
    """
    import fcntl

    out_dir = Path(out_dir)
    try:
        handle = open(out_dir / LOCK_FILE, "a+")  # noqa: SIM115 - held until the block ends
    except OSError as error:
        raise OutputDirError(f"--out: cannot lock '{out_dir}' ({error.strerror or error.__class__.__name__}); "
                             "choose a writable directory") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputDirError(f"--out: '{out_dir}' is being written by another zerosim run right now; wait for it "
                                 "to finish or choose another --out") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def remove_run_files(out_dir: Path) -> list[str]:
    """Delete the files an earlier run left in ``out_dir`` that a run writes (:data:`RUN_FILES` and its
    checkpoint), ``summary.json`` first; other files are left alone. Returns the names removed."""
    from zerosim.io.checkpoint import checkpoint_files

    removed = []
    try:
        for name in RUN_FILES:
            path = Path(out_dir) / name
            if path.is_file() or path.is_symlink():
                path.unlink()
                removed.append(name)
        for path in checkpoint_files(out_dir):
            path.unlink(missing_ok=True)
            removed.append(path.name)
        for path in Path(out_dir).glob(".*.tmp"):  # temporaries of a killed run's atomic writes
            if any(path.name.startswith(f".{name}.") for name in RUN_FILES):
                path.unlink(missing_ok=True)
                removed.append(path.name)
    except OSError as error:
        raise OutputDirError(f"--out: cannot remove the earlier run's files in '{out_dir}' "
                             f"({error.strerror or error.__class__.__name__}); remove them or choose another --out") \
            from None
    return removed


def write_atomic(path: Path, write) -> None:
    """``write(temporary_path)``, then move the file to ``path`` (a unique temporary name in the same
    folder, so two writers never share one, and a reader sees the old file or the new one, whole)."""
    path = Path(path)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    handle.close()
    try:
        write(Path(handle.name))
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def build_tables(
    scenario: Scenario,
    scalars: dict[str, np.ndarray],
    by_district: dict[str, np.ndarray],
    by_age_band: dict[str, np.ndarray],
    district_names: tuple[str, ...],
    days: int,
    ledger: dict[str, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Wide timeseries and long by-district / by-age-band / ledger tables from the Recorder's buffers
    (``ledger``: the recorder's buffers of measures declared with table ``ledger``, by column)."""
    day = np.arange(days, dtype=np.int32)
    columns: dict[str, np.ndarray] = {"day": day}
    if scenario.start_date is not None:
        start = np.datetime64(scenario.start_date, "D")
        columns["date"] = (start + day.astype("timedelta64[D]")).astype("datetime64[ms]")
    for name in TIMESERIES_CONTRACT[1:]:
        columns[name] = scalars[name][:days]
    for name in POLICY_COLUMNS:
        columns[name] = scalars[name][:days] if name in scalars else np.zeros(days)
    for name, values in scalars.items():
        if name not in columns:
            columns[name] = values[:days]
    timeseries = pd.DataFrame(columns)
    for name in timeseries.columns:
        if name not in ("day", "date") and name not in FRACTIONAL_COLUMNS \
                and np.all(np.mod(timeseries[name].to_numpy(), 1) == 0):
            timeseries[name] = timeseries[name].astype(np.int64)

    district_count = len(district_names)
    district_frame: dict[str, np.ndarray] = {
        "day": np.repeat(day, district_count),
        "district": np.tile(np.array(district_names, dtype=object), days),
    }
    ledger_frame = dict(district_frame)
    for name, values in by_district.items():
        district_frame[name.removesuffix("_district")] = values[:days].reshape(-1).astype(np.int64)
    for name, values in (ledger or {}).items():
        ledger_frame[name] = values[:days].reshape(-1)
    districts = pd.DataFrame(district_frame)
    ledger = pd.DataFrame(ledger_frame) if len(ledger_frame) > 2 else pd.DataFrame()
    if "new_infections" in districts:
        districts["cumulative_infections"] = districts.groupby("district", sort=False)["new_infections"].cumsum()

    bands = [f"{low}-{low + 9}" if low < AGE_BAND_LOWER_YEARS[-1] else f"{low}+" for low in AGE_BAND_LOWER_YEARS]
    age_frame: dict[str, np.ndarray] = {
        "day": np.repeat(day, len(bands)),
        "age_band": np.tile(np.array(bands, dtype=object), days),
    }
    for name, values in by_age_band.items():
        age_frame[name] = values[:days].reshape(-1).astype(np.int64)
    return timeseries, districts, pd.DataFrame(age_frame), ledger


def events_table(columns: dict[str, list] | None) -> pd.DataFrame:
    """The zone event log as a table (empty, with the columns, when no zoning ran)."""
    frame = pd.DataFrame(columns if columns else {c: [] for c in EVENT_COLUMNS})
    return frame.astype({"day": "int32", "zone_id": "int32", "scope": "string", "zone_name": "string",
                         "event": "string", "reason": "string"})


def summarise(scenario: Scenario, timeseries: pd.DataFrame, population: int, runtime_seconds: float, extra: dict) -> dict:
    """The summary.json content: contract keys first, then extras."""
    infectious = timeseries["infectious"].to_numpy()
    infections = int(timeseries["new_infections"].sum())
    summary = {
        "scenario": scenario.name,
        "seed": scenario.seed,
        "population": int(population),
        "days": int(len(timeseries)),
        "infections": infections,
        "attack_rate": infections / population,
        "deaths": int(timeseries["new_deaths"].sum()),
        "peak_infectious_day": int(np.argmax(infectious)) if infectious.size else 0,
        "peak_infectious": int(infectious.max(initial=0)),
        "runtime_seconds": round(float(runtime_seconds), 3),
    }
    summary.update(
        {
            "tests_swabbed": int(timeseries["tests_swabbed"].sum()),
            "tubes_processed": int(timeseries["tubes_processed"].sum()),
            "cases_detected": int(timeseries["cases_detected"].sum()),
            "false_positives": int(timeseries["false_positives"].sum()),
            "max_lab_backlog": int(timeseries["lab_backlog"].to_numpy().max(initial=0)),
            "max_in_isolation": int(timeseries["in_isolation"].to_numpy().max(initial=0)),
            "max_in_quarantine": int(timeseries["in_quarantine"].to_numpy().max(initial=0)),
            "max_waiting_for_bed": int(timeseries["waiting_for_bed"].to_numpy().max(initial=0)),
            "peak_sealed_population": int(timeseries["sealed"].to_numpy().max(initial=0)),
            "city_sealed_days": int(timeseries["city_sealed"].sum()),
        }
    )
    summary.update(extra)
    return summary


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    write_atomic(path, lambda temporary: temporary.write_bytes(data))


def write_summary(results: Results, out_dir: Path) -> None:
    """Write ``summary.json``, the file that marks ``out_dir`` as one complete run (written last)."""
    try:
        _atomic_write_bytes(out_dir / "summary.json", (json.dumps(results.summary, indent=2) + "\n").encode())
    except OSError as error:
        raise OutputError(f"--out: writing results to '{out_dir}' failed ({error.strerror}); check disk space and permissions") from None


def write_results(results: Results, out_dir: Path, summary: bool = True) -> None:
    """Write the contract files into ``out_dir`` (already prepared). Each file is replaced atomically;
    ``summary.json`` comes last (``summary=False``: not yet -- the caller writes figures first, then
    :func:`write_summary`)."""
    try:
        _atomic_write_bytes(out_dir / "scenario.yaml", results.scenario.to_yaml().encode())
        for name, frame in (
            ("timeseries.parquet", results.timeseries),
            ("by_district.parquet", results.by_district),
            ("by_age_band.parquet", results.by_age_band),
            ("events.parquet", results.events),
            ("ledger.parquet", results.ledger),
            ("pressure.parquet", results.pressure),
            ("confinement_days.parquet", results.confinement_days),
        ):
            if name != "events.parquet" and frame.empty and not len(frame.columns):
                continue
            write_atomic(out_dir / name, lambda temporary, frame=frame: frame.to_parquet(temporary, index=False,
                                                                                        engine="pyarrow"))
    except OSError as error:
        raise OutputError(f"--out: writing results to '{out_dir}' failed ({error.strerror}); check disk space and permissions") from None
    results.out_dir = out_dir
    if summary:
        write_summary(results, out_dir)


def load_summary(run_dir: str | Path) -> dict:
    """The summary.json of a run directory; one-line OutputError naming the directory if unusable."""
    run_dir = check_path(run_dir, "run directory", RunDirError)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory '{run_dir}': does not exist or is not a directory; "
                          f"give a directory written by zerosim run")
    path = run_dir / "summary.json"
    if not path.is_file():
        raise RunDirError(f"run directory '{run_dir}': no summary.json; give a directory written by zerosim run")
    try:
        summary = read_json_bounded(path)
    except JSON_READ_ERRORS as error:
        raise RunDirError(f"run directory '{run_dir}': summary.json is unreadable ({error.__class__.__name__}); "
                          f"re-run the scenario to rewrite it") from None
    if not isinstance(summary, dict):
        raise RunDirError(f"run directory '{run_dir}': summary.json does not hold an object; re-run the scenario")
    if summary.get("kind") != "region":
        problem = _summary_type_problem(summary)
        if problem is not None:
            raise RunDirError(f"run directory '{run_dir}': summary.json {problem}; re-run the scenario to rewrite it")
        check_one_run(run_dir, summary)
    return summary


def check_one_run(run_dir: Path, summary: dict) -> None:
    """Refuse (one line, exit 2) a folder whose ``scenario.yaml`` is not the scenario ``summary.json`` was
    written for (their scenario hashes differ): files of two runs, e.g. a --force run killed midway."""
    from zerosim.io.safe_yaml import load_yaml
    from zerosim.io.scenario import validate_mapping

    path = Path(run_dir) / "scenario.yaml"
    expected = summary.get("scenario_hash")
    if expected is None or not path.is_file():
        return
    try:
        text = path.read_text(encoding="utf-8")
        digest = validate_mapping(load_yaml(text, str(path))).digest()
    except (OSError, UnicodeDecodeError, ZerosimError, TypeError, ValueError) as error:
        raise RunDirError(f"run directory '{run_dir}': scenario.yaml is unreadable ({str(error)[:100]}); "
                          "re-run the scenario") from None
    if digest != expected:
        raise RunDirError(f"run directory '{run_dir}': summary.json (scenario hash {str(expected)[:16]}) and "
                          f"scenario.yaml (hash {digest}) are from different runs; re-run the scenario with --force")


#: summary.json keys (at any depth) whose values are text; every other leaf is a number (or null).
SUMMARY_TEXT_KEYS = frozenset({"scenario", "variant", "policy", "policy_label", "scenario_hash", "zerosim_version",
                               "git_revision", "baseline", "unit", "date", "start_date",
                               # the ``measures`` catalogue components declare (label, unit, ...)
                               "label", "aggregate", "table", "component"})


#: summary.json keys whose values are lists of texts.
SUMMARY_TEXT_LIST_KEYS = frozenset({"warnings", "scale_notes", "extensions"})


def _summary_type_problem(summary: dict, path: str = "") -> str | None:
    """What is wrong with the types in a run's summary.json (a text where a number belongs, ...), or None."""
    for key, value in summary.items():
        where = f"{path}{key}"
        if isinstance(value, dict):
            problem = _summary_type_problem(value, where + ".")
            if problem is not None:
                return problem
        elif key in SUMMARY_TEXT_KEYS:
            if value is not None and not isinstance(value, str):
                return f"holds {str(value)[:40]!r} at '{where[:80]}', not a text"
        elif key in SUMMARY_TEXT_LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                return f"holds {str(value)[:40]!r} at '{where[:80]}', not a list of texts"
        elif value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            return f"holds {str(value)[:40]!r} at '{where[:80]}' where a number belongs"
    return None


def _optional(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.exists() else pd.DataFrame()


def read_results(run_dir: Path) -> Results:
    """Read a run directory written by :func:`write_results`."""
    from zerosim.io.safe_yaml import load_yaml
    from zerosim.io.scenario import validate_mapping

    run_dir = check_path(run_dir, "run directory", RunDirError)
    missing = [name for name in RESULT_FILES if not (run_dir / name).exists()]
    if missing:
        raise RunDirError(f"run directory '{run_dir}': no {missing[0]}; give a directory written by zerosim run")
    scenario = validate_mapping(load_yaml((run_dir / "scenario.yaml").read_text(encoding="utf-8"),
                                          f"{run_dir / 'scenario.yaml'}"))
    summary = load_summary(run_dir)  # also refuses a summary.json of another scenario than scenario.yaml
    age_path = run_dir / "by_age_band.parquet"
    events_path = run_dir / "events.parquet"
    return Results(
        scenario=scenario,
        summary=summary,
        timeseries=pd.read_parquet(run_dir / "timeseries.parquet"),
        by_district=pd.read_parquet(run_dir / "by_district.parquet"),
        by_age_band=pd.read_parquet(age_path) if age_path.exists() else pd.DataFrame(),
        events=pd.read_parquet(events_path) if events_path.exists() else pd.DataFrame({c: [] for c in EVENT_COLUMNS}),
        ledger=_optional(run_dir / "ledger.parquet"),
        pressure=_optional(run_dir / "pressure.parquet"),
        confinement_days=_optional(run_dir / "confinement_days.parquet"),
        out_dir=run_dir,
    )
