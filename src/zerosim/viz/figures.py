"""Viz layer: Matplotlib figures built from the result tables (never from a live simulation).

Layer ``viz`` -- imports pandas and matplotlib (Agg backend) only.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zerosim.viz import style  # noqa: E402

_INK = style.INK
_MUTED = style.MUTED
_COLOURS = style.COLOURS


def _style(ax: plt.Axes) -> None:
    style.axes(ax)


def _x(timeseries: pd.DataFrame) -> tuple[np.ndarray, str]:
    return style.time_x(timeseries)


def epidemic_curve(timeseries: pd.DataFrame, summary: dict, path: Path) -> Path:
    """New infections and deaths per day, and people infectious, with the headline numbers."""
    x, xlabel = _x(timeseries)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 1.4]})
    top.fill_between(x, timeseries["infectious"], color=_COLOURS["infectious"], alpha=0.35, linewidth=0, label="infectious (people)")
    top.plot(x, timeseries["new_infections"], color=_COLOURS["infections"], linewidth=2, label="new infections per day")
    top.set_ylabel("people", color=_INK)
    style.legend(top, loc="upper right")
    _style(top)
    bottom.bar(x, timeseries["new_deaths"], color=_COLOURS["deaths"], width=0.9, label="deaths per day")
    bottom.set_ylabel("deaths / day", color=_INK)
    bottom.set_ylim(bottom=0, top=max(1.0, float(timeseries["new_deaths"].max()) * 1.1))
    style.time_axis(bottom, xlabel)
    _style(bottom)
    population = summary.get("population", 0)
    fig.suptitle(
        f"{summary.get('scenario', '')}: {summary.get('infections', 0):,} infections "
        f"({100 * summary.get('attack_rate', 0):.1f}% of {population:,}), {summary.get('deaths', 0):,} deaths",
        x=0.01, ha="left", fontsize=12, color=_INK, fontweight="bold",
    )
    fig.text(0.01, 0.925, f"seed {summary.get('seed')} · peak of infectious on day {summary.get('peak_infectious_day')}",
             fontsize=9, color=_MUTED)
    return style.save(fig, path, rect=(0, 0, 1, 0.92))


def infections_by_district(by_district: pd.DataFrame, population_by_district: dict[str, int], path: Path,
                           start_date=None) -> Path:
    """Heat map of new infections per 100,000 by district and day, with each district's attack rate."""
    table = by_district.pivot(index="district", columns="day", values="new_infections")
    order = by_district["district"].drop_duplicates().tolist()
    table = table.loc[order]
    sizes = np.array([max(population_by_district.get(name, 1), 1) for name in order], dtype=float)
    rate = table.to_numpy() / sizes[:, None] * 1e5
    attack = table.sum(axis=1).to_numpy() / sizes * 100
    fig, (heat, bars) = plt.subplots(1, 2, figsize=(11, 5.5), gridspec_kw={"width_ratios": [4, 1.2]}, sharey=True)
    image = heat.imshow(rate, aspect="auto", cmap="magma_r", interpolation="nearest")
    heat.set_yticks(range(len(order)), order, fontsize=9)
    style.day_axis(heat, style.as_date(start_date), int(table.columns.min()) if len(table.columns) else 0)
    heat.set_title("new infections per 100,000 per day", loc="left", fontsize=10, color=_INK)
    style.colorbar(fig, image, heat, "new infections per 100,000 residents per day")
    bars.barh(range(len(order)), attack, color=_COLOURS["infections"])
    bars.set_xlabel("infected (% of residents)", color=_INK)
    bars.set_title("attack rate", loc="left", fontsize=10, color=_INK)
    _style(bars)
    bars.grid(axis="x", color="#e4e7eb")
    fig.suptitle("Infections by district", x=0.01, ha="left", fontsize=12, fontweight="bold", color=_INK)
    return style.save(fig, path)


def testing_and_backlog(timeseries: pd.DataFrame, summary: dict, path: Path) -> Path:
    """People swabbed and tubes processed per day, the lab backlog, and cases detected."""
    x, xlabel = _x(timeseries)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [2.2, 1.3]})
    top.fill_between(x, timeseries["tests_swabbed"], color="#9fb3c8", alpha=0.6, linewidth=0, label="people swabbed")
    top.plot(x, timeseries["tubes_processed"], color="#243b53", linewidth=1.8, label="tubes processed (lab)")
    top.plot(x, timeseries["lab_backlog"], color="#d64545", linewidth=1.8, linestyle="--", label="tubes waiting (backlog)")
    top.set_ylabel("per day", color=_INK)
    style.legend(top, loc="upper right")
    _style(top)
    bottom.bar(x, timeseries["cases_detected"], color=_COLOURS["infections"], width=0.9, label="cases detected")
    bottom.plot(x, timeseries["new_infections"], color=_INK, linewidth=1.2, label="new infections (true)")
    bottom.set_ylabel("people / day", color=_INK)
    style.time_axis(bottom, xlabel)
    style.legend(bottom, loc="upper right")
    _style(bottom)
    fig.suptitle(
        f"Testing: {summary.get('tests_swabbed', 0):,} swabs, {summary.get('tubes_processed', 0):,} tubes, "
        f"{summary.get('cases_detected', 0):,} cases found ({summary.get('false_positives', 0):,} false-positive tubes)",
        x=0.01, ha="left", fontsize=12, fontweight="bold", color=_INK,
    )
    return style.save(fig, path, rect=(0, 0, 1, 0.95))


def people_by_zone(timeseries: pd.DataFrame, summary: dict, path: Path) -> Path:
    """People living in sealed / controlled / precaution zones, and in isolation or quarantine."""
    x, xlabel = _x(timeseries)
    population = max(summary.get("population", 1), 1)
    fig, ax = plt.subplots(figsize=(9, 5.6))
    layers = [
        (timeseries["sealed"], "#7b1e1e", "sealed (fengkong): may not leave home"),
        (timeseries["controlled"], "#d64545", "controlled (guankong): may not leave the compound"),
        (timeseries["precaution"], "#f0b429", "precaution (fangfan)"),
    ]
    ax.stackplot(x, *[100 * v / population for v, _, _ in layers], colors=[c for _, c, _ in layers],
                 labels=[label for _, _, label in layers], alpha=0.85, linewidth=0)
    ax.plot(x, 100 * (timeseries["in_isolation"] + timeseries["in_quarantine"]) / population, color=_INK,
            linewidth=1.5, label="in isolation or quarantine")
    ax.set_ylabel("% of residents", color=_INK)
    style.time_axis(ax, xlabel)
    style.legend_below(ax)  # outside the data: the sealed area is dark
    _style(ax)
    fig.suptitle(
        f"People by zone: peak sealed {summary.get('peak_sealed_population', 0):,}; "
        f"whole city sealed {summary.get('city_sealed_days', 0)} days",
        x=0.01, ha="left", fontsize=12, fontweight="bold", color=_INK,
    )
    return style.save(fig, path)


def district_zone_grid(by_district: pd.DataFrame, population_by_district: dict[str, int], path: Path,
                       start_date=None) -> Path:
    """A schematic district-by-day grid: share of each district's residents sealed or controlled."""
    order = by_district["district"].drop_duplicates().tolist()
    confined = by_district.assign(share=lambda f: f["sealed"] + 0.5 * f["controlled"])
    table = confined.pivot(index="district", columns="day", values="share").loc[order]
    sizes = np.array([max(population_by_district.get(name, 1), 1) for name in order], dtype=float)
    share = table.to_numpy() / sizes[:, None]
    fig, ax = plt.subplots(figsize=(11, 5.5))
    image = ax.imshow(100 * share, aspect="auto", cmap="Reds", vmin=0, vmax=100, interpolation="nearest")
    ax.set_yticks(range(len(order)), order, fontsize=9)
    style.day_axis(ax, style.as_date(start_date), int(table.columns.min()) if len(table.columns) else 0)
    style.colorbar(fig, image, ax, "% of residents (sealed + ½ controlled)")
    fig.suptitle("Districts under lockdown, day by day (schematic grid, not a map)", x=0.01, ha="left", fontsize=12,
                 fontweight="bold", color=_INK)
    return style.save(fig, path)


def write_run_figures(out_dir: Path, timeseries: pd.DataFrame, by_district: pd.DataFrame, summary: dict) -> list[Path]:
    """All figures of one run, into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    population = summary.get("population_by_district", {})
    start = style.start_date_of(timeseries)
    paths = [
        epidemic_curve(timeseries, summary, out_dir / "epidemic_curve.png"),
        infections_by_district(by_district, population, out_dir / "infections_by_district.png", start_date=start),
    ]
    if summary.get("policy", "none") != "none":
        paths.append(testing_and_backlog(timeseries, summary, out_dir / "testing_and_backlog.png"))
        paths.append(people_by_zone(timeseries, summary, out_dir / "people_by_zone.png"))
        if {"sealed", "controlled"} <= set(by_district.columns):
            paths.append(district_zone_grid(by_district, population, out_dir / "district_lockdown_grid.png",
                                            start_date=start))
    return paths


def _income_after_release(quantiles: pd.DataFrame) -> bool:
    """Whether the median income lost stays above zero after the median sealed count is back to zero."""
    if not {"sealed", "ledger_income_lost_cny"} <= set(quantiles.columns):
        return False
    median = quantiles[quantiles["quantile"] == 0.5]
    for _, table in median.groupby("sweep"):
        table = table.sort_values("day")
        sealed = table["sealed"].to_numpy()
        if sealed.max(initial=0) <= 0:
            continue
        last = len(sealed) - 1 - int((sealed[::-1] > 0).argmax())
        if table["ledger_income_lost_cny"].to_numpy()[last + 1:].sum() > 0:
            return True
    return False


def ensemble_bands(quantiles: pd.DataFrame, points: list[dict], scenario: str, path: Path, start_date=None) -> Path:
    """Median and 50% / 90% bands of new infections, sealed people and lost income, per sweep point."""
    panels = [(name, label) for name, label in (
        ("new_infections", "new infections per day"), ("sealed", "people in sealed zones"),
        ("ledger_income_lost_cny", "income lost per day (CNY)")) if name in quantiles]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4.2), squeeze=False)
    colours = plt.get_cmap("tab10")
    for index, (name, label) in enumerate(panels):
        ax = axes[0, index]
        for p, point in enumerate(points):
            table = quantiles[quantiles["sweep"] == p].pivot(index="day", columns="quantile", values=name)
            if table.empty:
                continue
            colour = colours(p % 10)
            days = style.days_to_dates(table.index.to_numpy(), style.as_date(start_date))
            ax.fill_between(days, table[0.05], table[0.95], color=colour, alpha=0.15, linewidth=0)
            ax.fill_between(days, table[0.25], table[0.75], color=colour, alpha=0.35, linewidth=0)
            tag = ", ".join(f"{k}={v}" for k, v in point.items()) or scenario
            ax.plot(days, table[0.5], color=colour, linewidth=1.8, label=tag)
        title = label
        if name == "ledger_income_lost_cny" and _income_after_release(quantiles):
            title += ("\nstill lost after the last sealed zone opens: workers without a green\n"
                      "health code (recent negative test) and of stores that failed for good")
        ax.set_title(title, loc="left", fontsize=10 if title == label else 8.5, color=_INK)
        style.time_axis(ax, "" if style.as_date(start_date) is not None else style.DAY_LABEL)
        _style(ax)
    style.legend(axes[0, 0], fontsize=8)
    fig.suptitle(f"{scenario}: ensemble median with 50% and 90% bands", x=0.01, ha="left", fontsize=12,
                 fontweight="bold", color=_INK)
    return style.save(fig, path)
