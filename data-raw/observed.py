"""Derive the packaged observed series (date, cases[, district]) from the raw copies.

Run from the repository root: ``python data-raw/observed.py``. Raw copies and their attribution:
src/zerosim/data/observed/raw/ and src/zerosim/data/observed/SOURCES.md. Nothing is smoothed.
"""

from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parents[1] / "src" / "zerosim" / "data" / "observed"
RAW = HERE / "raw"


def shanghai() -> None:
    daily = pd.read_csv(RAW / "shanghai_2022_daily_local_cases.csv")
    out = pd.DataFrame({"date": daily["date"], "cases": daily["new_infections_total"], "deaths": daily["new_deaths"]})
    out.to_csv(HERE / "shanghai_2022_cases.csv", index=False)
    districts = pd.read_csv(RAW / "shanghai_2022_daily_cases_by_district.csv")
    # the source repeats the 2022-04-01 rows exactly; keep one copy (rows that differ would stop here)
    districts = districts.drop_duplicates()
    if districts.duplicated(["date", "district_en"]).any():
        raise SystemExit("shanghai_2022_daily_cases_by_district.csv: conflicting rows for one date and district")
    out = districts.rename(columns={"district_en": "district", "new_infections_total": "cases"})[["date", "district", "cases"]]
    out.to_csv(HERE / "shanghai_2022_cases_by_district.csv", index=False)


def wuhan() -> None:
    """Daily new confirmed = difference of the running maximum of the cumulative count (the source's
    cumulative series has artefacts that decrease); over a gap in dates the difference is put on the
    first date after the gap (flag ``gap_days``)."""
    raw = pd.read_csv(RAW / "wuhan_2020_cumulative_cases.csv", parse_dates=["date"])
    raw = raw[raw["date"] <= "2020-04-30"].sort_values("date")
    cumulative = raw["cumulative_confirmed"].cummax()
    deaths = raw["cumulative_deaths"].cummax()
    out = pd.DataFrame({
        "date": raw["date"].dt.strftime("%Y-%m-%d"),
        "cases": cumulative.diff().fillna(cumulative.iloc[0]).astype(int),
        "deaths": deaths.diff().fillna(deaths.iloc[0]).astype(int),
        "gap_days": raw["date"].diff().dt.days.fillna(1).astype(int),
    })
    out.to_csv(HERE / "wuhan_2020_cases.csv", index=False)


if __name__ == "__main__":
    shanghai()
    wuhan()
