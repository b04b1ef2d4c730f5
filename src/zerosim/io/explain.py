"""IO layer: plain sentences that explain the results a reader finds puzzling, read from a run's tables.

A small run of ``dynamic-zero-2022`` with a hundred infections seals the whole city for two weeks,
keeps nearly everyone confined "after ten negative tests", has someone confined for most of the run
and keeps losing income after every zone is released; a region's city can report more cases than
infections. Each is what the model does (not a bug), so the output says why, with the run's own
numbers: ``zerosim run`` prints these sentences under its summary, the report shows them, and the
region run prints its own.

Layer ``io`` -- reads the run-directory contract (``summary.json``, ``timeseries.parquet``,
``events.parquet``) as pandas objects; imports ``zerosim.numbers`` only. Every function copes with a
missing table or column by saying nothing about it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from zerosim.lazy import lazy_module
from zerosim.numbers import money, words

pd = lazy_module("pandas")

_PER_100K = re.compile(r"([\d.]+) community cases per 100,000")


def _when(day: int, timeseries) -> str:
    """``day 4 (5 Mar 2022)``, or ``day 4`` without dates."""
    if timeseries is not None and "date" in timeseries and "day" in timeseries:
        rows = timeseries.loc[timeseries["day"] == day, "date"]
        if len(rows) and not pd.isna(rows.iloc[0]):
            date = pd.Timestamp(rows.iloc[0])
            return f"day {day} ({date.day} {date:%b %Y})"
    return f"day {day}"


def _column(timeseries, name: str):
    if timeseries is None or name not in timeseries:
        return None
    return timeseries[name].to_numpy(dtype=float)


def city_seal(summary: dict, timeseries, events) -> list[str]:
    """When the whole city was sealed, the rule that sealed it (in cases at this run's size), and its release."""
    if events is None or len(events) == 0 or not {"scope", "event", "day", "reason"} <= set(events.columns):
        return []
    city = events[events["scope"].astype(str) == "city"].sort_values("day", kind="stable")
    sentences = []
    population = int(summary.get("population", 0) or 0)
    sealed = city[city["event"].astype(str) == "sealed"]
    for _, row in sealed.iterrows():
        day, reason = int(row["day"]), str(row["reason"])
        text = f"The whole city was sealed on {_when(day, timeseries)}: {reason}"
        match = _PER_100K.search(reason)
        if match and population:
            cases = max(1, math.ceil(float(match.group(1)) * population / 1e5 - 1e-9))
            text += (f" -- at {population:,} people that is {cases:,} case{'s' if cases != 1 else ''} (a threshold "
                     f"per 100,000 residents is reached with very few cases in a small simulated city)")
        released = city[(city["event"].astype(str) == "released") & (city["day"] > day)]
        if len(released):
            end = released.iloc[0]
            text += (f"; it was released on {_when(int(end['day']), timeseries)} after {end['reason']} "
                     f"({int(end['day']) - day} days)")
        else:
            text += "; it was still sealed on the last day"
        sentences.append(text + ".")
    return sentences


def after_ten_negatives(summary: dict) -> list[str]:
    """Why so many stay confined after ten negative tests in a row."""
    ledger = summary.get("ledger") or {}
    people = ledger.get("people_confined_after_ten_negatives") or 0
    if not people:
        return []
    share = people / max(int(summary.get("population", 0) or 0), 1)
    text = (f"{words(people)} people ({100 * share:.0f}% of the residents) were still confined after ten negative "
            f"tests in a row: in sealed and controlled zones everyone is tested every day, and a zone is released "
            f"by its own rule (days without a case in the zone or the city), not by a person's own results")
    sealed_days = summary.get("city_sealed_days") or 0
    if sealed_days > 10:
        text += f"; the whole city was sealed for {sealed_days} days, so its residents passed ten negatives inside it"
    return [text + "."]


def longest_confinement(summary: dict, timeseries) -> list[str]:
    """Why the longest unbroken confinement is long: waiting at home for a quarantine room, then quarantine."""
    ledger = summary.get("ledger") or {}
    longest = ledger.get("longest_confinement_days_max") or 0
    waiting = _column(timeseries, "waiting_for_room")
    days = int(summary.get("days", 0) or 0)
    if not longest or waiting is None or waiting.max(initial=0) <= 0 or longest < 21:
        return []
    busy = waiting > 0
    first, last = int(busy.argmax()), int(len(busy) - 1 - busy[::-1].argmax())
    return [f"Long unbroken confinements (the longest {longest:,} days of {days}) come from waiting for a room: "
            f"up to {int(waiting.max()):,} close contacts waited at home for a central-quarantine room between day "
            f"{first} and day {last} (rooms are limited: containment.tracing.rooms_per_100k), then served their "
            f"quarantine; the wait counts as confinement."]


def income_after_release(summary: dict, timeseries) -> list[str]:
    """Income still lost once no zone is sealed or controlled: who is still kept from work, and why."""
    income = _column(timeseries, "ledger_income_lost_cny")
    zoned = None
    for name in ("sealed", "controlled"):
        column = _column(timeseries, name)
        if column is not None:
            zoned = column if zoned is None else zoned + column
    if income is None or zoned is None or zoned.max(initial=0) <= 0:
        return []
    last_zoned = int(len(zoned) - 1 - (zoned[::-1] > 0).argmax())
    after = slice(last_zoned + 1, len(income))
    if after.start >= len(income) or income[after].mean() <= 0:
        return []
    reasons = []
    yellow = _column(timeseries, "code_yellow")
    if yellow is not None and yellow[after].mean() >= 1:
        reasons.append(f"about {words(round(yellow[after].mean()))} people a day without a green health code "
                       f"(no negative test within the hours the code requires, or in home quarantine), who may not "
                       f"go to work")
    closed = _column(timeseries, "workers_in_closed_workplaces")
    failed = _column(timeseries, "ledger_stores_failed")
    if closed is not None and closed[after].mean() >= 1:
        stores = f" ({int(failed[-1]):,} stores failed for good)" if failed is not None and failed[-1] > 0 else ""
        reasons.append(f"{words(round(closed[after].mean()))} workers of workplaces still closed{stores}")
    kept = _column(timeseries, "ledger_workers_kept_from_work")
    who = f"{words(round(kept[after].mean()))} workers a day kept from work" if kept is not None else "workers"
    because = ": " + "; ".join(reasons) if reasons else ""
    return [f"Income is still lost after the last zone is released on {_when(last_zoned + 1, timeseries)}: "
            f"{money(income[after].mean())} a day on average, {who}{because}."]


def explain_run(summary: dict, timeseries=None, events=None) -> list[str]:
    """The sentences for one run (empty when nothing needs explaining)."""
    return (city_seal(summary, timeseries, events) + after_ten_negatives(summary)
            + longest_confinement(summary, timeseries) + income_after_release(summary, timeseries))


def explain_region(summary: dict) -> list[str]:
    """Cities that report more cases than infections: cases count where found, infections where they happen."""
    sentences = []
    for name, city in (summary.get("cities") or {}).items():
        cases, infections = city.get("cases_detected", 0) or 0, city.get("infections", 0) or 0
        if cases <= infections:
            continue
        travel: dict[str, Any] = city.get("travel") or {}
        arrived = travel.get("arrivals_infected", 0) or 0
        diverted = travel.get("diverted_in_infected", 0) or 0
        detail = f"; {arrived:,} infected travellers arrived there" if arrived else ""
        if arrived and diverted:
            detail += f" ({diverted:,} of them diverted)"
        sentences.append(f"{name}: {cases:,} cases detected but {infections:,} infections -- cases are counted "
                         f"where they are detected, infected travellers included, infections where they "
                         f"happen{detail}.")
    return sentences
