"""Viz layer: figures of `zerosim calibrate` and `zerosim forecast`, built from their tables.

Layer ``viz`` -- imports pandas and matplotlib (Agg backend) only; never a live simulation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from zerosim.viz import style
from zerosim.viz.figures import _INK, _MUTED, _style, plt

_FIT = "#2f6fb0"
_FORECAST = "#d64545"
_DATA = "#1f2933"


def _observed_dots(ax, observed: pd.Series, until) -> None:
    """Observed daily cases: black up to ``until`` (used in the fit), grey after (held out)."""
    if observed is None or observed.empty:
        return
    until = pd.Timestamp(until)
    used = observed[observed.index <= until]
    later = observed[observed.index > until]
    ax.scatter(used.index, used.to_numpy(), s=9, color=_DATA, zorder=3, label="reported (used in the fit)")
    if not later.empty:
        ax.scatter(later.index, later.to_numpy(), s=9, color=_MUTED, zorder=3, label="reported (after --until, not used)")


def posterior_predictive_figure(predictive: pd.DataFrame, observed: pd.Series, info: dict, path: Path) -> Path:
    """Median and 50/90 % bands of the reported cases the posterior predicts, against the data.

    Parameters
    ----------
    predictive : posterior_predictive.parquet (date, q05, q25, q50, q75, q95; whole-city counts)
    observed : reported cases per day (whole city), indexed by date
    info : calibration.json content (scale, fit window, observe)
    """
    fig, ax = plt.subplots(figsize=(9, 4.8))
    x = pd.to_datetime(predictive["date"])
    ax.fill_between(x, predictive["q05"], predictive["q95"], color=_FIT, alpha=0.18, linewidth=0, label="90% band")
    ax.fill_between(x, predictive["q25"], predictive["q75"], color=_FIT, alpha=0.35, linewidth=0, label="50% band")
    ax.plot(x, predictive["q50"], color=_FIT, linewidth=2, label="posterior median")
    window = info.get("fit_window", {})
    shown = observed[(observed.index >= x.min() - pd.Timedelta(days=7))
                     & (observed.index <= x.max() + pd.Timedelta(days=21))] if observed is not None else None
    _observed_dots(ax, shown, window.get("until", x.max()))
    ax.set_ylabel("reported cases per day (whole city)", color=_INK)
    style.legend(ax, fontsize=8, loc="upper left")
    _style(ax)
    style.date_axis(ax)
    fig.suptitle(f"{info.get('scenario', '')}: posterior predictive vs reported cases", x=0.01, ha="left",
                 fontsize=12, fontweight="bold", color=_INK)
    scale = info.get("scale", {}).get("statement", "")
    fig.text(0.01, 0.905, f"{scale} · model series: {info.get('observe', '')} · fit window "
             f"{window.get('first_date', '')} .. {window.get('until', '')}", fontsize=8.5, color=_MUTED)
    return style.save(fig, path, rect=(0, 0, 1, 0.9))


def fan_chart(quantiles: pd.DataFrame, observed: pd.Series, until, release_dates: pd.Series, horizon_end,
              title: str, subtitle: str, sentence: str, path: Path) -> Path:
    """Observed dots, 50/90 % fan of daily reported cases, and the distribution of the city's release date.

    Parameters
    ----------
    quantiles : forecast.parquet (date, quantile, reported_cases; whole-city counts)
    observed : reported cases per day (whole city), indexed by date
    until : last date the forecast is conditioned on
    release_dates : the city's release date in each run (NaT: not released within the horizon)
    horizon_end : last simulated date
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9.5, 7), sharex=True, gridspec_kw={"height_ratios": [3, 1.5]})
    table = quantiles.pivot(index="date", columns="quantile", values="reported_cases")
    table.index = pd.to_datetime(table.index)
    until = pd.Timestamp(until)
    past, future = table[table.index <= until], table[table.index >= until]
    for part, colour, label in ((past, _FIT, "fit (posterior)"), (future, _FORECAST, "forecast")):
        if part.empty:
            continue
        top.fill_between(part.index, part[0.05], part[0.95], color=colour, alpha=0.16, linewidth=0)
        top.fill_between(part.index, part[0.25], part[0.75], color=colour, alpha=0.32, linewidth=0)
        top.plot(part.index, part[0.5], color=colour, linewidth=2, label=f"{label}: median, 50% and 90% bands")
    _observed_dots(top, observed[(observed.index >= table.index.min()) & (observed.index <= table.index.max())]
                   if observed is not None else None, until)
    top.axvline(until, color=_MUTED, linestyle="--", linewidth=1)
    top.text(until, 0.02, f" data up to {until.date()}", fontsize=8, color=_MUTED, va="bottom",
             transform=top.get_xaxis_transform())  # at the foot of the line, clear of the legend
    top.set_ylabel("reported cases per day (whole city)", color=_INK)
    style.legend(top, fontsize=8, loc="upper right")
    _style(top)

    released = pd.to_datetime(release_dates.dropna())
    runs = max(len(release_dates), 1)
    if not released.empty:
        counts = released.value_counts().sort_index()
        bottom.bar(counts.index, counts.to_numpy() / runs, width=0.9, color=_FORECAST, alpha=0.6,
                   label="share of runs released that day")
        cumulative = bottom.twinx()
        every = pd.date_range(min(counts.index.min(), until), pd.Timestamp(horizon_end), freq="D")
        share = np.array([(released <= day).sum() / runs for day in every])
        cumulative.step(every, share, where="post", color=_INK, linewidth=1.4, label="probability released by")
        cumulative.set_ylim(0, 1.02)
        cumulative.set_ylabel("P(released by)", color=_INK, fontsize=9)
        cumulative.spines[["top"]].set_visible(False)
        cumulative.tick_params(labelsize=8, colors=_INK)
    not_released = int(release_dates.isna().sum())
    end = pd.Timestamp(horizon_end).date()
    caption = (f"all {runs} runs released by {end}" if not_released == 0 else
               f"{not_released} of {runs} runs still sealed or controlled on {end}")
    bottom.set_title(f"city release date ({caption})", loc="left", fontsize=9.5, color=_INK)
    bottom.set_ylabel("share of runs", color=_INK, fontsize=9)
    bottom.axvline(until, color=_MUTED, linestyle="--", linewidth=1)
    _style(bottom)
    style.date_axis(bottom)
    fig.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold", color=_INK)
    fig.text(0.01, 0.925, subtitle, fontsize=8.5, color=_MUTED)
    fig.text(0.01, 0.01, sentence, fontsize=9, color=_INK)
    return style.save(fig, path, rect=(0, 0.03, 1, 0.92))
