"""Viz layer: figures of an attribution (a waterfall per measure) and of a frontier (the non-dominated set
with the scenario's actual policy marked), drawn from their tables (never from live runs).

Layer ``viz`` -- imports matplotlib, numpy, pandas and ``zerosim.numbers`` (through the style) only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zerosim.viz import style  # noqa: E402

#: Measures drawn in the waterfall, in this order, when present.
WATERFALL_MEASURES = ("infections_averted", "confined_person_days", "income_lost_cny", "food_shortfall_person_days")
_UP, _DOWN, _END = "#d64545", "#3e7cb1", "#7b8794"


def attribution_waterfall(table: pd.DataFrame, totals: dict, part_labels: dict, path: Path,
                          title: str = "") -> Path:
    """One waterfall per measure: each part's Shapley value (bar from where the parts before it ended, with
    its 95 % interval over seeds), adding up to the last bar, the effect of all parts together
    (every part on minus every part off).

    Parameters
    ----------
    table : attribution.parquet (part, measure, value, low, high, share)
    totals : attribution.json's ``totals`` (measure -> {label, unit, value, all_on, all_off})
    part_labels : part -> words
    """
    measures = [m for m in WATERFALL_MEASURES if m in set(table["measure"])] or list(dict.fromkeys(table["measure"]))[:4]
    columns = 2 if len(measures) > 1 else 1
    rows = int(np.ceil(len(measures) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(6.2 * columns, 3.9 * rows), squeeze=False)
    for ax, measure in zip(axes.flat, measures):
        frame = table[table["measure"] == measure]
        info = totals.get(measure, {})
        labels = [part_labels.get(part, part) for part in frame["part"]]
        values = frame["value"].to_numpy(dtype=float)
        low, high = frame["low"].to_numpy(dtype=float), frame["high"].to_numpy(dtype=float)
        starts = np.concatenate([[0.0], np.cumsum(values)[:-1]])
        x = np.arange(len(values) + 1)
        colours = [_UP if value >= 0 else _DOWN for value in values]
        ax.bar(x[:-1], values, bottom=starts, color=colours, width=0.7)
        ends = starts + values
        ax.errorbar(x[:-1], ends, yerr=[np.maximum(values - low, 0), np.maximum(high - values, 0)], fmt="none",
                    ecolor=style.INK, elinewidth=0.9, capsize=3)
        total = float(np.sum(values))
        ax.bar(x[-1], total, color=_END, width=0.7)
        for k in range(len(values)):
            ax.plot([x[k] + 0.35, x[k + 1] - 0.35], [ends[k], ends[k]], color=style.MUTED, linewidth=0.7)
        ax.axhline(0, color=style.MUTED, linewidth=0.8)
        ax.set_xticks(x, [*labels, "all parts"], rotation=25, ha="right", fontsize=8)
        ax.set_title(f"{info.get('label', measure)} ({info.get('unit', '')})", loc="left", fontsize=10,
                     color=style.INK)
        style.axes(ax)
    for ax in list(axes.flat)[len(measures):]:
        ax.axis("off")
    fig.suptitle(title or "What each part bought and cost (Shapley values, 95 % interval over seeds)",
                 x=0.01, ha="left", fontsize=12, fontweight="bold", color=style.INK)
    return style.save(fig, path, rect=(0, 0, 1, 0.95))


def frontier_plot(trials: pd.DataFrame, frontier: pd.DataFrame, actual: dict, objectives: list[str],
                  labels: dict, path: Path, closest: str | None = None) -> Path:
    """The first two objectives of every trial (grey), the non-dominated set (line), the scenario's actual
    policy (star) and the frontier point that dominates it most (ring), when there is one."""
    first, second = objectives[0], objectives[1]
    fig, ax = plt.subplots(figsize=(8, 5.6))
    ok = trials.dropna(subset=[first, second]) if len(trials) else trials
    if len(ok):
        ax.scatter(ok[first], ok[second], s=18, color=style.MUTED, alpha=0.6, label="trials", linewidths=0)
    if len(frontier):
        ordered = frontier.sort_values([first, second])
        ax.plot(ordered[first], ordered[second], color=style.COLOURS["infections"], linewidth=1.4,
                marker="o", markersize=5, label="non-dominated set (the frontier found)", drawstyle="steps-post")
        if closest is not None and closest in set(frontier["id"]):
            point = frontier[frontier["id"] == closest].iloc[0]
            ax.scatter([point[first]], [point[second]], s=140, facecolors="none", edgecolors=style.INK,
                       linewidths=1.4, label=f"closest frontier point ({closest})")
    if actual and actual.get(first) is not None and actual.get(second) is not None:
        ax.scatter([actual[first]], [actual[second]], s=180, marker="*", color=style.INK, label="actual policy",
                   zorder=5)
    ax.set_xlabel(labels.get(first, first), color=style.INK)
    ax.set_ylabel(labels.get(second, second), color=style.INK)
    style.axes(ax)
    style.legend_above(ax)
    extra = f" (objectives beyond the first two: {', '.join(objectives[2:])})" if len(objectives) > 2 else ""
    fig.suptitle("Frontier: the least of one for each level of the other" + extra, x=0.01, ha="left",
                 fontsize=12, fontweight="bold", color=style.INK)
    return style.save(fig, path, rect=(0, 0, 1, 0.93))
