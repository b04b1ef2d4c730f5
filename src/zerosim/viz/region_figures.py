"""Viz layer: the figure of a region run -- flows between cities and cases per city.

Layer ``viz`` -- imports pandas and matplotlib (Agg backend) only; reads the region's tables
(``region_timeseries.parquet``, ``travel_flows.parquet``) and summary, never a live simulation.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from zerosim.viz import style
from zerosim.viz.figures import _INK, _MUTED, _style

_PALETTE = ("#2f6f9f", "#d64545", "#3e8e5e", "#f0b429", "#8e6c8a", "#1f2933", "#e07b39", "#4c9f9f")


def _positions(names: list[str], known: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """(x, y) of each city: longitude/latitude when known, else on a circle."""
    result = {}
    for k, name in enumerate(names):
        key = "".join(ch for ch in name.lower() if ch.isalnum())
        match = next((xy for city, xy in known.items() if "".join(ch for ch in city.lower() if ch.isalnum()) == key), None)
        result[name] = match if match is not None else (100 + 10 * math.cos(2 * math.pi * k / len(names)),
                                                         32 + 6 * math.sin(2 * math.pi * k / len(names)))
    return result


def region_figure(timeseries: pd.DataFrame, flows: pd.DataFrame, summary: dict,
                  positions: dict[str, tuple[float, float]], path: Path) -> Path:
    """Four panels: (a) the travel network -- line width by real trips, diverted passengers in red,
    circle colour by infections per 100,000; (b) new infections per 100,000 residents per day by
    city; (c) infected arrivals per day by city (diverted ones hatched); (d) people in arrival
    quarantine and stranded visitors by city."""
    cities = list(summary["cities"])
    colours = {name: _PALETTE[k % len(_PALETTE)] for k, name in enumerate(cities)}
    xy = _positions(cities, positions)
    fig = plt.figure(figsize=(13, 8.5))
    grid = fig.add_gridspec(3, 2, width_ratios=[1.15, 1], hspace=0.45, wspace=0.22)
    network = fig.add_subplot(grid[:, 0])
    curves = fig.add_subplot(grid[0, 1])
    arrivals = fig.add_subplot(grid[1, 1], sharex=curves)
    held = fig.add_subplot(grid[2, 1], sharex=curves)

    # (a) network
    scale = {name: c["scale_fraction"] for name, c in summary["cities"].items()}
    if not flows.empty:
        real = flows.assign(real=flows["departed"] / flows["origin"].map(scale))
        pairs = real.groupby(["origin", "destination"])["real"].sum()
        totals: dict[tuple[str, str], float] = {}
        for (o, d), value in pairs.items():
            key = tuple(sorted((o, d)))
            totals[key] = totals.get(key, 0.0) + value
        top = max(totals.values(), default=0.0)
        for (a, b), value in totals.items():
            if value <= 0 or a not in xy or b not in xy:
                continue
            width = 0.6 + 7 * math.sqrt(value / top)
            network.plot([xy[a][0], xy[b][0]], [xy[a][1], xy[b][1]], color="#9aa5b1", linewidth=width, alpha=0.6,
                         solid_capstyle="round", zorder=1)
        diverted = real[real["diverted"] > 0].groupby(["origin", "diverted_to"])["diverted"].sum()
        for (o, d), count in diverted.items():
            if o in xy and d in xy:
                network.annotate("", xy=xy[d], xytext=xy[o], zorder=3,
                                 arrowprops={"arrowstyle": "-|>", "color": "#d64545", "lw": 2,
                                             "linestyle": "--", "shrinkA": 12, "shrinkB": 12})
                mid = ((xy[o][0] + xy[d][0]) / 2, (xy[o][1] + xy[d][1]) / 2)
                network.text(mid[0], mid[1] + 0.6, f"{int(count)} diverted", color="#d64545", fontsize=8, ha="center")
    rates = {name: 1e5 * c["infections"] / max(c["population"], 1) for name, c in summary["cities"].items()}
    top_rate = max(rates.values(), default=0.0) or 1.0
    cmap = plt.get_cmap("Reds")
    for name in cities:
        c = summary["cities"][name]
        size = 150 + 900 * math.sqrt(c["real_population"] / max(x["real_population"] for x in summary["cities"].values()))
        network.scatter(*xy[name], s=size, color=cmap(0.15 + 0.8 * rates[name] / top_rate), edgecolor=_INK,
                        linewidth=0.8, zorder=4)
        network.annotate(f"{name}\n{rates[name]:,.0f} infections / 100k", xy[name], xytext=(14, -4),
                         textcoords="offset points", ha="left", va="top", fontsize=8.5, color=_INK, zorder=5)
    network.set_xlabel("longitude", color=_MUTED, fontsize=9)
    network.set_ylabel("latitude", color=_MUTED, fontsize=9)
    xs = [p[0] for p in xy.values()]
    ys = [p[1] for p in xy.values()]
    network.set_xlim(min(xs) - 4, max(xs) + 9)
    network.set_ylim(min(ys) - 4, max(ys) + 3)
    network.set_title("(a) trips between cities (width: real trips), diverted passengers", fontsize=10,
                      color=_INK, loc="left")
    _style(network)

    # (b)-(d) per city over time
    start = style.as_date(summary.get("start_date"))
    if not timeseries.empty:
        for name in cities:
            rows = timeseries[timeseries["city"] == name]
            rows = rows.assign(day=style.days_to_dates(rows["day"].to_numpy(), start))  # dates when there is a start
            population = summary["cities"][name]["population"]
            curves.plot(rows["day"], 1e5 * rows["new_infections"] / max(population, 1), color=colours[name],
                        linewidth=1.8, label=name)
            arrivals.plot(rows["day"], rows["arrivals_infected"], color=colours[name], linewidth=1.5, label=name)
            if rows["diverted_in_infected"].sum() > 0:
                arrivals.fill_between(rows["day"], rows["diverted_in_infected"], color=colours[name], alpha=0.25,
                                      hatch="//", linewidth=0)
            held.plot(rows["day"], rows["arrival_quarantine_central"] + rows["arrival_quarantine_home"],
                      color=colours[name], linewidth=1.8, label=f"{name} in arrival quarantine")
            if rows["stranded_visitors"].sum() > 0:
                held.plot(rows["day"], rows["stranded_visitors"], color=colours[name], linewidth=1.2, linestyle=":")
    curves.set_yscale("symlog", linthresh=10)
    curves.set_title("(b) new infections per 100,000 residents per day (log above 10)", fontsize=10, color=_INK,
                     loc="left")
    handles, labels = curves.get_legend_handles_labels()
    if handles:  # one legend of the city colours for (b)-(d), under the panels (outside the data)
        fig.legend(handles, labels, loc="lower right", bbox_to_anchor=(0.99, 0.0), ncol=len(handles), frameon=False,
                   fontsize=9)
        fig.subplots_adjust(bottom=0.13)
    arrivals.set_title("(c) infected arrivals per day (hatched: diverted)", fontsize=10, color=_INK, loc="left")
    held.set_title("(d) people in arrival quarantine (solid), stranded visitors (dotted)", fontsize=10, color=_INK,
                   loc="left")
    for ax in (curves, arrivals, held):
        ax.set_ylim(bottom=0)
        _style(ax)
    style.time_axis(held, "" if start is not None and not timeseries.empty else style.DAY_LABEL)
    travel = summary["travel"]
    fig.suptitle(
        f"{summary['scenario']}: {summary['infections']:,} infections in {len(cities)} cities; "
        f"{travel['diverted_trips']:,} diverted trips, {travel['stranded_person_days']:,} stranded person-days, "
        f"{travel['arrival_quarantine_central_person_days']:,} central-quarantine person-days",
        x=0.01, ha="left", fontsize=11.5, color=_INK, fontweight="bold")
    fig.text(0.01, 0.935, "counts in simulated agents; " + "; ".join(summary.get("notes", [])), fontsize=8,
             color=_MUTED)
    return style.save(fig, path, dpi=110, tight=False)
