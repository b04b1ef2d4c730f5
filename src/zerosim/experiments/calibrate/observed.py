"""Experiments layer (calibration): observed daily case series (CSV) -- loading, checking, aligning to a scenario.

Layer ``experiments`` -- sits above the API; imports ``io`` and ``errors`` only here.

An observed series is a CSV with a header row and the columns ``date`` (YYYY-MM-DD) and ``cases``
(reported cases that day, a whole number >= 0), optionally ``district`` (long format: one row per
date and district; the city's daily total is then the sum over districts). Other columns (e.g.
``deaths``) are ignored. Dates missing between the first and the last date are unknown (NaN) and
left out of the distance; with districts, a district missing on a date given counts as 0.

Shipped series live in ``zerosim/data/observed/*.csv`` and are named by their file stem
(``shanghai_2022_cases``); :func:`load_observed` accepts a path or such a name.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from zerosim.errors import ScenarioError

REQUIRED_COLUMNS = ("date", "cases")


@dataclass(frozen=True)
class ObservedData:
    """A daily series of reported cases, optionally by district.

    Attributes
    ----------
    source : the path or built-in name it was loaded from
    cases : pd.Series, float64, indexed by every date (datetime64[ns], daily) from first to last
    by_district : pd.DataFrame (date x district, float64) or None when the CSV has no district column
    """

    source: str
    cases: pd.Series
    by_district: pd.DataFrame | None

    @property
    def first_date(self) -> date:
        return self.cases.index[0].date()

    @property
    def last_date(self) -> date:
        return self.cases.index[-1].date()

    @property
    def districts(self) -> list[str]:
        return [] if self.by_district is None else [str(name) for name in self.by_district.columns]


def builtin_series() -> dict[str, object]:
    """Name (file stem) -> resource of every observed series shipped in ``zerosim/data/observed``."""
    folder = resources.files("zerosim").joinpath("data/observed")
    if not folder.is_dir():
        return {}
    return {item.name.removesuffix(".csv"): item for item in folder.iterdir() if item.name.endswith(".csv")}


def _read_text(source: str | Path) -> tuple[str, str]:
    """(origin shown in errors, CSV text) of a path or a built-in name."""
    text_source = str(source)
    path = Path(text_source)
    shipped = builtin_series()
    if not path.exists() and not path.suffix and text_source in shipped:
        return f"built-in '{text_source}'", shipped[text_source].read_text(encoding="utf-8")
    if not path.exists():
        names = ", ".join(sorted(shipped)) or "none shipped"
        raise ScenarioError(f"--data: '{text_source}' does not exist; give a CSV with columns date,cases "
                            f"or a built-in series ({names})")
    if path.is_dir():
        raise ScenarioError(f"--data: '{text_source}' is a directory; give a CSV file with columns date,cases")
    try:
        return text_source, path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ScenarioError(f"--data: cannot read '{text_source}' ({error.__class__.__name__}); "
                            f"give a UTF-8 CSV file") from None


def load_observed(source: str | Path) -> ObservedData:
    """Read and check an observed series (path or built-in name).

    Raises
    ------
    ScenarioError
        One line naming ``--data``, the file, the line and the fix: missing file, missing columns,
        bad dates, bad counts, a date (or date and district) given twice, no rows.
    """
    origin, text = _read_text(source)
    reader = csv.DictReader(text.splitlines())
    header = [name.strip() for name in (reader.fieldnames or [])]
    for column in REQUIRED_COLUMNS:
        if column not in header:
            raise ScenarioError(f"--data: {origin} has no column '{column}'; the CSV needs a header with "
                                f"columns date,cases (and optionally district)")
    has_district = "district" in header
    dates: list[date] = []
    cases: list[float] = []
    districts: list[str] = []
    for line, raw in enumerate(reader, start=2):
        row = {str(key).strip(): (value or "").strip() for key, value in raw.items() if key is not None}
        if not any(row.values()):
            continue
        try:
            day = date.fromisoformat(row["date"])
        except ValueError:
            raise ScenarioError(f"--data: {origin} line {line}: bad date {row['date']!r}; "
                                f"write dates as YYYY-MM-DD") from None
        try:
            count = float(row["cases"])
        except ValueError:
            count = float("nan")
        if not np.isfinite(count) or count < 0 or count != int(count):
            raise ScenarioError(f"--data: {origin} line {line}: cases must be a whole number >= 0, "
                                f"got {row['cases']!r}; fix the count")
        if has_district and not row["district"]:
            raise ScenarioError(f"--data: {origin} line {line}: the district is empty; "
                                f"name the district or drop the district column")
        dates.append(day)
        cases.append(count)
        districts.append(row["district"] if has_district else "")
    if not dates:
        raise ScenarioError(f"--data: {origin} has no rows; give at least one date,cases row")
    frame = pd.DataFrame({"date": pd.to_datetime(dates), "district": districts, "cases": cases})
    repeated = frame.duplicated(["date", "district"])
    if repeated.any():
        first = frame[repeated].iloc[0]
        where = f" and district {first['district']}" if has_district else ""
        raise ScenarioError(f"--data: {origin}: date {first['date'].date()}{where} appears twice; "
                            f"give one row per date{' and district' if has_district else ''}")
    every_day = pd.date_range(frame["date"].min(), frame["date"].max(), freq="D")
    by_district = None
    if has_district:
        by_district = (frame.pivot(index="date", columns="district", values="cases")
                       .reindex(every_day).fillna(0.0).astype(np.float64))
        by_district.columns = [str(name) for name in by_district.columns]
        by_district.index.name = "date"
        total = by_district.sum(axis=1)
    else:
        # a date missing from a series without districts is unknown, not zero (partial series, e.g. Chongqing)
        total = frame.set_index("date")["cases"].reindex(every_day).astype(np.float64)
    total.index.name = "date"
    total.name = "cases"
    return ObservedData(source=str(source), cases=total, by_district=by_district)


def day_of(start: date, when: date) -> int:
    """Simulation day (0-based) of calendar date ``when`` for a scenario starting on ``start``."""
    return (when - start).days


def parse_date(text: str | date, option: str) -> date:
    """A date given on the command line or in a spec file; one-line error naming ``option``."""
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ScenarioError(f"{option}: bad date {text!r}; write it as YYYY-MM-DD") from None
