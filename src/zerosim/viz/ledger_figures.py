"""Viz layer: figures of the social-cost ledger, and of runs compared side by side.

Layer ``viz`` -- imports pandas, matplotlib (Agg backend), the house style of ``viz.figures``,
``zerosim.errors`` and the comparison's headline sentence (``io.compare``) only. Figures are built
from result tables (``summary.json``, ``timeseries.parquet``, ``pressure.parquet``,
``confinement_days.parquet``) or a ``Comparison``'s table, never from a live simulation.
Every function takes tables and a path, writes one PNG and returns the path; each copes with empty
or all-zero data (it says so on the figure).
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zerosim.errors import RunDirError  # noqa: E402
from zerosim.io.compare import headline, readable  # noqa: E402
from zerosim.numbers import money, words  # noqa: E402
from zerosim.viz import style  # noqa: E402
from zerosim.viz.figures import _COLOURS, _INK, _MUTED, _style, _x  # noqa: E402

_LEDGER_COLOURS = {
    "confined": "#7b1e1e",
    "food": "#de911d",
    "elderly": "#d64545",
    "income": "#486581",
    "precarious": "#243b53",
    "closed": "#f0b429",
    "failed": "#7b1e1e",
    "demand": "#2f8132",
    "testing": "#9fb3c8",
}
#: Bar colours of compared runs: the baseline is grey, the others take these in turn.
_RUN_COLOURS = ("#d64545", "#243b53", "#de911d", "#2f8132", "#8e6c8a", "#0b6e99")
_PRECARIOUS = ("informal", "gig", "self_employed")
_DPI = 130


# -- helpers ------------------------------------------------------------------------------------------
def _thousands(ax: plt.Axes, axis: str = "y") -> None:
    """Tick labels with thousands separators (``35,000``), in words from a million (``1.2 million``)."""
    style.thousands(ax.yaxis if axis == "y" else ax.xaxis)


def _words(value: float) -> str:
    """A number for a title: ``995,861``, ``12.3 million``, ``1.35 billion`` (:func:`zerosim.numbers.words`)."""
    return words(value)


def _percent(share: float) -> str:
    if share == 0:
        return "0%"
    return f"{100 * share:.0f}%" if share >= 0.1 else f"{100 * share:.1f}%"


def _ledger(summary: dict) -> dict:
    ledger = summary.get("ledger") if isinstance(summary, dict) else None
    return ledger if isinstance(ledger, dict) else {}


def _column(timeseries: pd.DataFrame, name: str) -> np.ndarray:
    """``ledger_<name>`` of the timeseries as floats (zeros when the run has no such column)."""
    column = f"ledger_{name}"
    if column in timeseries:
        return timeseries[column].to_numpy(dtype=float)
    return np.zeros(len(timeseries))


def _title(fig: plt.Figure, title: str, subtitle: str | None = None) -> float:
    """The house title (bold, left) and an optional muted subtitle, wrapped to the figure's width.

    Returns the top of the area left for the axes (figure fraction), for ``tight_layout(rect=...)``.
    The title is placed with ``fig.text`` (not ``suptitle``) so tight_layout does not reserve its room twice.
    """
    width, height = fig.get_size_inches()
    title_lines = textwrap.wrap(title, max(int(width * 9.2), 20))
    y = 1 - 0.1 / height
    fig.text(0.01, y, "\n".join(title_lines), ha="left", va="top", fontsize=12, fontweight="bold", color=_INK,
             linespacing=1.25)
    y -= len(title_lines) * 0.215 / height
    if subtitle:
        subtitle_lines = textwrap.wrap(subtitle, max(int(width * 13.5), 30))
        y -= 0.03 / height
        fig.text(0.01, y, "\n".join(subtitle_lines), ha="left", va="top", fontsize=9, color=_MUTED, linespacing=1.3)
        y -= len(subtitle_lines) * 0.165 / height
    return y - 0.05 / height


def _empty(ax: plt.Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=11, color=_MUTED)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[["top", "right", "left", "bottom"]].set_visible(False)


def _save(fig: plt.Figure, path: Path, top: float) -> Path:
    return style.save(fig, path, rect=(0, 0, 1, top), dpi=_DPI)


# -- one run ------------------------------------------------------------------------------------------
def confinement_distribution(confinement_days: pd.DataFrame, summary: dict, path: Path) -> Path:
    """Histogram of each confined person's longest unbroken confinement, with its median and long tails.

    Parameters
    ----------
    confinement_days : one row per person ever confined: ``longest_confinement_days`` and (optional)
        ``confined_days_total`` (int)
    summary : summary.json content (its ``ledger`` object gives the totals in the subtitle)
    path : PNG to write
    """
    longest = np.array([], dtype=float)
    if "longest_confinement_days" in confinement_days:
        longest = confinement_days["longest_confinement_days"].to_numpy(dtype=float)
        longest = longest[longest > 0]
    ledger = _ledger(summary)
    fig, ax = plt.subplots(figsize=(10, 5.5))
    if longest.size == 0:
        _empty(ax, "nobody was confined in this run")
        top = _title(fig, "Confinement: nobody was confined")
        return _save(fig, path, top)

    highest = int(longest.max())
    width = max(1, math.ceil(highest / 90))
    bins = np.arange(0.5, highest + width + 0.5, width)
    ax.hist(longest, bins, color=_LEDGER_COLOURS["confined"], alpha=0.85, label="longest unbroken confinement")
    if "confined_days_total" in confinement_days:
        total = confinement_days["confined_days_total"].to_numpy(dtype=float)
        total = total[total > 0]
        if total.size and not np.array_equal(np.sort(total), np.sort(longest)):
            total_bins = np.arange(0.5, max(highest, int(total.max())) + width + 0.5, width)
            ax.hist(total, total_bins, histtype="step", color=_INK, linewidth=1.2,
                    label="all days confined (episodes added up)")
    median = float(np.median(longest))
    ax.axvline(median, color=_INK, linewidth=1.5)
    ax.annotate(f"median {median:g} days", (median, 0.86), xycoords=("data", "axes fraction"), xytext=(5, 0),
                textcoords="offset points", fontsize=9, color=_INK,
                bbox={"boxstyle": "square,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    shares = {threshold: float((longest > threshold).mean()) for threshold in (14, 28, 60)}
    for threshold in shares:
        if threshold <= ax.get_xlim()[1]:
            ax.axvline(threshold, color=_MUTED, linewidth=1, linestyle=":")
            ax.annotate(f"{threshold} d", (threshold, 0.97), xycoords=("data", "axes fraction"), xytext=(3, 0),
                        textcoords="offset points", fontsize=8, color=_MUTED)
    lines = [f"{longest.size:,} people confined", f"median {median:g} days, mean {longest.mean():.1f}",
             f"longest {highest} days"]
    lines += [f"> {threshold} days: {_percent(share)} ({int(round(share * longest.size)):,})"
              for threshold, share in shares.items()]
    ax.text(0.98, 0.78, "\n".join(lines), transform=ax.transAxes, ha="right", va="top", fontsize=9, color=_INK,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": "white", "edgecolor": "#e4e7eb"})
    ax.set_xlabel("days confined without a break (home, compound or facility)", color=_INK)
    ax.set_ylabel("people", color=_INK)
    style.legend_above(ax)
    _thousands(ax)
    _style(ax)
    subtitle = None
    if ledger:
        subtitle = f"{_words(ledger.get('confined_person_days', 0))} person-days confined in all"
        if ledger.get("people_confined_after_ten_negatives"):
            subtitle += (f" · {int(ledger['people_confined_after_ten_negatives']):,} people still confined "
                         f"after ten negative tests in a row")
    top = _title(
        fig,
        f"Longest unbroken confinement: median {median:g} days; {_percent(shares[14])} confined > 14 days, "
        f"{_percent(shares[28])} > 28, {_percent(shares[60])} > 60",
        subtitle,
    )
    return _save(fig, path, top)


def food_shortfall(timeseries: pd.DataFrame, summary: dict, path: Path) -> Path:
    """People in confined households without food, per day; households that ran out, elderly living alone highlighted."""
    x, xlabel = _x(timeseries)
    people = _column(timeseries, "food_shortfall_person_days")
    ran_out = np.cumsum(_column(timeseries, "households_ran_out_new"))
    elderly = np.cumsum(_column(timeseries, "elderly_alone_ran_out_new"))
    ledger = _ledger(summary)
    person_days = float(ledger.get("food_shortfall_person_days", people.sum()))
    households = int(ledger.get("households_ran_out", ran_out[-1] if ran_out.size else 0))
    elderly_total = int(ledger.get("elderly_alone_ran_out", elderly[-1] if elderly.size else 0))
    fig, (top_ax, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1.4]})
    if len(timeseries) == 0 or (people.sum() == 0 and ran_out.sum() == 0):
        plt.close(fig)
        fig, ax = plt.subplots(figsize=(9, 5))
        _empty(ax, "no household ran out of food in this run")
        return _save(fig, path, _title(fig, "Food: no household ran out"))
    top_ax.fill_between(x, people, color=_LEDGER_COLOURS["food"], alpha=0.55, linewidth=0,
                        label="people in confined households with no food left")
    top_ax.plot(x, people, color=_LEDGER_COLOURS["food"], linewidth=1.5)
    peak = int(np.argmax(people))
    top_ax.annotate(f"peak {_words(people[peak])}", (x[peak], people[peak]), xytext=(6, -2), textcoords="offset points",
                    fontsize=9, color=_INK)
    top_ax.set_ylabel("people without food", color=_INK)
    _thousands(top_ax)
    style.legend_above(top_ax)
    _style(top_ax)
    bottom.plot(x, ran_out, color=_INK, linewidth=1.8, label="households that ran out (cumulative)")
    bottom.fill_between(x, elderly, color=_LEDGER_COLOURS["elderly"], alpha=0.8, linewidth=0,
                        label="of them: people aged 65+ living alone")
    bottom.set_ylabel("households", color=_INK)
    _thousands(bottom)
    style.time_axis(bottom, xlabel)
    style.legend_above(bottom)
    _style(bottom)
    share = f" ({_percent(elderly_total / households)})" if households else ""
    top = _title(
        fig,
        f"Food: {_words(person_days)} person-days without food; {households:,} households ran out, "
        f"{elderly_total:,} of them elderly people living alone{share}",
        "people confined at home whose household's food ran out before a delivery came",
    )
    return _save(fig, path, top)


def _bars(ax: plt.Axes, values: dict[str, float], colour_of: Callable[[str], str], title: str) -> None:
    """Horizontal CNY bars, largest on top, each labelled with its value."""
    items = sorted(((name, float(v)) for name, v in values.items()), key=lambda item: item[1])
    numbers = np.array([v for _, v in items])
    ax.barh(range(len(items)), numbers, color=[colour_of(name) for name, _ in items])
    ax.set_yticks(range(len(items)), [name.replace("_", " ") for name, _ in items], fontsize=9)
    limit = numbers.max(initial=0)
    for i, value in enumerate(numbers):
        ax.text(value + 0.01 * max(limit, 1), i, money(value), va="center", fontsize=8, color=_INK)
    ax.set_xlim(0, max(limit, 1) * 1.25)
    ax.set_title(title, loc="left", fontsize=10, color=_INK)
    ax.set_xlabel("CNY", color=_INK)
    _style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e4e7eb", linewidth=0.8)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
    style.thousands(ax.xaxis)


def income_lost(summary: dict, path: Path) -> Path:
    """Horizontal bars of income lost (CNY) by sector, and by worker type."""
    ledger = _ledger(summary)
    sectors = {k: v for k, v in (ledger.get("income_lost_cny_by_sector") or {}).items() if isinstance(v, (int, float))}
    types = {k: v for k, v in (ledger.get("income_lost_cny_by_worker_type") or {}).items() if isinstance(v, (int, float))}
    total = float(ledger.get("income_lost_cny", sum(sectors.values())))
    if total == 0 and not any(sectors.values()) and not any(types.values()):
        fig, ax = plt.subplots(figsize=(9, 5))
        _empty(ax, "no income was lost in this run")
        return _save(fig, path, _title(fig, "Income: nothing lost"))
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 5), gridspec_kw={"width_ratios": [1.3, 1]})
    if sectors:
        _bars(left, sectors, lambda name: _LEDGER_COLOURS["income"], "by sector")
    else:
        _empty(left, "no sector breakdown")
    if types:
        _bars(right, types, lambda name: _LEDGER_COLOURS["precarious" if name in _PRECARIOUS else "income"],
              "by worker type (dark: informal, gig and self-employed)")
    else:
        _empty(right, "no worker-type breakdown")
    precarious = sum(types.get(name, 0.0) for name in _PRECARIOUS)
    by_types = sum(types.values())
    title = f"Income lost: {money(total)}"
    if by_types > 0:
        title += f"; {_percent(precarious / by_types)} of it by informal, gig and self-employed workers"
    subtitle = None
    if ledger.get("worker_days_lost"):
        subtitle = f"{_words(float(ledger['worker_days_lost']))} worker-days kept from work (confined, no green health code, or workplace closed)"
    return _save(fig, path, _title(fig, title, subtitle))


def stores(timeseries: pd.DataFrame, summary: dict, path: Path) -> Path:
    """Small stores and restaurants: closed per day, failed (cumulative), and the demand-recovery index."""
    x, xlabel = _x(timeseries)
    count = _column(timeseries, "stores")
    closed = _column(timeseries, "stores_closed")
    failed = _column(timeseries, "stores_failed")
    lost = _column(timeseries, "store_demand_lost")
    ledger = _ledger(summary)
    total = int(ledger.get("stores", count.max(initial=0)))
    failed_total = int(ledger.get("stores_failed", failed[-1] if failed.size else 0))
    closed_days = float(ledger.get("store_days_closed", closed.sum()))
    if len(timeseries) == 0 or (closed.sum() == 0 and failed.sum() == 0 and lost.sum() == 0):
        fig, ax = plt.subplots(figsize=(9, 5))
        _empty(ax, "no store closed in this run")
        return _save(fig, path, _title(fig, f"Small stores and restaurants: none of {total:,} closed"))
    demand = np.where(count > 0, 1.0 - lost / np.maximum(count, 1), 1.0)
    fig, (top_ax, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [2, 1.3]})
    top_ax.fill_between(x, closed, color=_LEDGER_COLOURS["closed"], alpha=0.55, linewidth=0, label="stores closed that day")
    top_ax.plot(x, failed, color=_LEDGER_COLOURS["failed"], linewidth=2, label="stores failed for good (cumulative)")
    if total:
        top_ax.axhline(total, color=_MUTED, linewidth=1, linestyle="--")
        top_ax.annotate(f"all {total:,} small stores and restaurants", (0, total), xycoords=("axes fraction", "data"),
                        xytext=(4, -11), textcoords="offset points", fontsize=8, color=_MUTED)
    top_ax.set_ylabel("stores", color=_INK)
    _thousands(top_ax)
    style.legend_above(top_ax)
    _style(top_ax)
    bottom.plot(x, 100 * demand, color=_LEDGER_COLOURS["demand"], linewidth=1.8,
                label="demand-recovery index: 1 − demand lost / stores")
    bottom.axhline(100, color=_MUTED, linewidth=1, linestyle="--")
    bottom.set_ylim(0, 105)
    bottom.set_ylabel("% of normal demand", color=_INK)
    style.time_axis(bottom, xlabel)
    style.legend_above(bottom)
    _style(bottom)
    share = f" ({_percent(failed_total / total)})" if total else ""
    top = _title(
        fig,
        f"Small stores and restaurants: {failed_total:,} of {total:,} failed{share}; "
        f"{_words(closed_days)} store-days closed",
        f"demand at {100 * demand[-1]:.0f}% of normal on the last day (closed stores count as no demand)",
    )
    return _save(fig, path, top)


def resistance_pressure_map(pressure: pd.DataFrame, path: Path, start_date=None) -> Path:
    """Subdistrict x day heat map of the resistance-pressure index, subdistricts grouped by district.

    Parameters
    ----------
    pressure : long table: ``day`` (int), ``subdistrict`` (int), ``district`` (str), ``resistance_pressure``
        (0-1 share of the subdistrict's residents)
    path : PNG to write
    """
    index_name = "Resistance-pressure index (not a prediction of protest)"
    fig, ax = plt.subplots(figsize=(11, 6))
    columns = {"day", "subdistrict", "district", "resistance_pressure"}
    if pressure is None or pressure.empty or not columns <= set(pressure.columns) \
            or float(pressure["resistance_pressure"].max()) <= 0:
        _empty(ax, "no subdistrict came under pressure in this run")
        return _save(fig, path, _title(fig, f"{index_name}: zero everywhere",
                                       "schematic subdistrict × day grid, not a map"))
    frame = pressure.assign(district=pressure["district"].astype(str))
    order = frame[["district", "subdistrict"]].drop_duplicates().sort_values(["district", "subdistrict"])
    table = frame.pivot_table(index=["district", "subdistrict"], columns="day", values="resistance_pressure",
                              aggfunc="max", observed=True)
    table = table.reindex(pd.MultiIndex.from_frame(order)).fillna(0.0)
    values = 100 * table.to_numpy(dtype=float)
    days = table.columns.to_numpy()
    vmax = max(float(values.max()), 1.0)
    image = ax.imshow(values, aspect="auto", cmap="OrRd", vmin=0, vmax=vmax, interpolation="nearest",
                      extent=(days.min() - 0.5, days.max() + 0.5, len(table) - 0.5, -0.5))
    districts = order["district"].to_numpy()
    starts = np.flatnonzero(np.r_[True, districts[1:] != districts[:-1]])
    ends = np.r_[starts[1:], len(districts)]
    ax.set_yticks((starts + ends - 1) / 2, districts[starts], fontsize=8)
    ax.tick_params(axis="y", length=0)
    for boundary in starts[1:]:
        ax.axhline(boundary - 0.5, color="white", linewidth=1)
    style.day_axis(ax, style.as_date(start_date))
    ax.set_ylabel("subdistricts, grouped by district", color=_INK)
    ax.tick_params(colors=_INK, labelsize=8)
    style.colorbar(fig, image, ax, "% of residents under pressure")
    row, column = np.unravel_index(int(np.argmax(values)), values.shape)
    district, subdistrict = table.index[row]
    typical = float(np.median(values.max(axis=1)))
    top = _title(
        fig,
        f"{index_name}: peak {values[row, column]:.1f}% of residents (subdistrict {subdistrict}, {district}, day {days[column]})",
        f"share of residents confined long without a break whose household has no food or who cannot work · "
        f"the median subdistrict peaks at {typical:.1f}% · schematic subdistrict × day grid, not a map",
    )
    return _save(fig, path, top)


def _read_run(run_dir: Path) -> dict[str, Any]:
    if not run_dir.is_dir() or not (run_dir / "summary.json").is_file():
        raise RunDirError(f"run directory '{run_dir}': no summary.json; give a directory written by zerosim run")
    try:
        tables: dict[str, Any] = {"summary": json.loads((run_dir / "summary.json").read_text())}
        for name in ("timeseries", "pressure", "confinement_days"):
            path = run_dir / f"{name}.parquet"
            tables[name] = pd.read_parquet(path) if path.exists() else pd.DataFrame()
    except (OSError, ValueError) as error:
        raise RunDirError(f"run directory '{run_dir}': cannot read its tables ({error.__class__.__name__}); "
                          f"re-run the scenario to rewrite them") from None
    return tables


def write_ledger_figures(out_dir: Path, results_like: Any) -> list[Path]:
    """Write every ledger figure that has data (non-zero) into ``out_dir``; returns their paths.

    Parameters
    ----------
    out_dir : directory for the PNG files
    results_like : a run directory (path), or an object with ``summary`` and, where present, ``timeseries``,
        ``pressure`` and ``confinement_days`` DataFrames (e.g. ``zerosim.Results``)
    """
    out_dir = Path(out_dir)
    if isinstance(results_like, (str, Path)):
        tables = _read_run(Path(results_like))
    else:
        tables = {name: getattr(results_like, name, None) for name in ("summary", "timeseries", "pressure",
                                                                         "confinement_days")}
    summary = tables.get("summary") or {}
    timeseries = tables.get("timeseries")
    timeseries = timeseries if isinstance(timeseries, pd.DataFrame) else pd.DataFrame()
    pressure = tables.get("pressure")
    confinement = tables.get("confinement_days")
    ledger = _ledger(summary)

    def any_of(*names: str) -> bool:
        return any(float(np.abs(_column(timeseries, name)).sum()) > 0 for name in names)

    paths = []
    if isinstance(confinement, pd.DataFrame) and "longest_confinement_days" in confinement \
            and (confinement["longest_confinement_days"] > 0).any():
        paths.append(confinement_distribution(confinement, summary, out_dir / "confinement_distribution.png"))
    if any_of("food_shortfall_person_days", "households_ran_out_new"):
        paths.append(food_shortfall(timeseries, summary, out_dir / "food_shortfall.png"))
    if any(float(v) > 0 for v in (ledger.get("income_lost_cny_by_sector") or {}).values()) \
            or float(ledger.get("income_lost_cny", 0) or 0) > 0:
        paths.append(income_lost(summary, out_dir / "income_lost.png"))
    if any_of("stores_closed", "stores_failed", "store_demand_lost"):
        paths.append(stores(timeseries, summary, out_dir / "stores.png"))
    if isinstance(pressure, pd.DataFrame) and "resistance_pressure" in pressure \
            and float(pressure["resistance_pressure"].max(skipna=True) if len(pressure) else 0) > 0:
        paths.append(resistance_pressure_map(pressure, out_dir / "resistance_pressure.png",
                                             start_date=style.start_date_of(timeseries)))
    return paths


# -- runs compared ----------------------------------------------------------------------------------------
#: Panels of the comparison figure: (measure, panel title).
COMPARISON_PANELS = (
    ("infections", "infections"),
    ("deaths", "COVID deaths"),
    ("confined_person_days", "confined"),
    ("food_shortfall_person_days", "without food"),
    ("income_lost_cny", "income lost"),
    ("testing_cny", "testing"),
    ("stores_failed", "small stores failed"),
    ("excess_non_covid_deaths", "excess non-COVID deaths"),
)


def comparison_figure(comparison: Any, path: Path) -> Path:
    """Runs side by side: infections and deaths, then the main ledger lines, as small multiples of bars.

    Parameters
    ----------
    comparison : a ``zerosim.io.compare.Comparison`` (uses ``table``, ``runs``, ``names``, ``baseline``,
        ``warnings``; the title is its headline)
    path : PNG to write
    """
    table = comparison.table
    runs, names = list(comparison.runs), list(comparison.names)
    colours, others = [], iter(_RUN_COLOURS * (1 + len(runs) // len(_RUN_COLOURS)))
    for i in range(len(runs)):
        colours.append(_MUTED if i == comparison.baseline else next(others))
    fig, axes = plt.subplots(2, 4, figsize=(13, 7))
    for ax, (measure, title) in zip(axes.flat, COMPARISON_PANELS):
        unit = str(table.at[measure, "unit"]) if measure in table.index else ""
        ax.set_title(f"{title} ({unit})" if unit else title, loc="left", fontsize=10, color=_INK)
        if measure not in table.index or table.loc[measure, runs].isna().all():
            _empty(ax, "not in these runs")
            continue
        values = table.loc[measure, runs].to_numpy(dtype=float)
        shown = np.nan_to_num(values)
        ax.bar(range(len(runs)), shown, color=colours, width=0.7)
        limit = float(np.abs(shown).max(initial=0))
        for i, value in enumerate(values):
            ax.text(i, shown[i] + 0.02 * max(limit, 1), readable(value, unit), ha="center", va="bottom",
                    fontsize=8.5, color=_INK)
        ax.set_ylim(0, max(limit, 1) * 1.2)
        ax.set_xticks([])
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
        style.thousands(ax.yaxis)
        _style(ax)
    height = fig.get_size_inches()[1]
    top = _title(fig, headline(comparison))
    handles = [matplotlib.patches.Patch(color=colour, label=f"{name} (baseline)" if i == comparison.baseline else name)
               for i, (name, colour) in enumerate(zip(names, colours))]
    fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.005, top), ncol=min(len(handles), 5),
               frameon=False, fontsize=9.5, handlelength=1.2)
    top -= (0.3 * math.ceil(len(handles) / 5) + 0.05) / height
    bottom = 0.0
    if comparison.warnings:
        note = textwrap.fill("note: " + "; ".join(comparison.warnings), 190)
        fig.text(0.01, 0.08 / height, note, fontsize=8, color=_COLOURS["infections"], va="bottom")
        bottom = (0.08 + 0.15 * (note.count("\n") + 1) + 0.05) / height
    fig.tight_layout(rect=(0, bottom, 1, top))
    fig.savefig(Path(path), dpi=_DPI)
    plt.close(fig)
    return Path(path)
