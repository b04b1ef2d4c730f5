"""Viz layer: the one figure style every zerosim figure uses.

- colours and the axes look (:func:`axes`);
- numbers on every axis with thousands separators and, from a million, in words (``1.5 million``),
  never an offset or a ``1e6`` multiplier (:func:`number_axes`, applied by :func:`save` to every axis
  that still has Matplotlib's default formatter);
- dates on every time axis when the scenario has a start date (:func:`time_x`, :func:`date_axis`,
  :func:`day_axis` for heat maps whose columns are days);
- legends with a white background (:func:`legend`), or outside the data (:func:`legend_above`,
  :func:`legend_right`);
- colour bars with a label (:func:`colorbar`).

Layer ``viz`` -- imports matplotlib, numpy, pandas and ``zerosim.numbers`` only.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from zerosim.numbers import words  # noqa: E402

INK = "#1f2933"
MUTED = "#7b8794"
GRID = "#e4e7eb"
COLOURS = {"infections": "#d64545", "infectious": "#f0b429", "deaths": "#1f2933", "exposed": "#8e6c8a"}
DPI = 130
#: Label of a time axis drawn in day numbers (only when the scenario has no start date).
DAY_LABEL = "day"


# -- axes and numbers -----------------------------------------------------------------------------------
def axes(ax: plt.Axes) -> None:
    """The house look: no top/right spines, muted axis lines, a light horizontal grid."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.spines[["left", "bottom"]].set_color(MUTED)
    ax.tick_params(colors=INK, labelsize=9)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def tick(value: float, _position: int | None = None) -> str:
    """A tick label: ``35,000``, ``0.25``, ``1.5 million`` (never ``3.5e4`` or an offset)."""
    if abs(value) >= 1e6:
        return words(value)
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.3f}".rstrip("0").rstrip(".")


def thousands(axis: matplotlib.axis.Axis) -> None:
    """Thousands separators on one axis (``ax.yaxis``), from a million in words."""
    axis.set_major_formatter(mticker.FuncFormatter(tick))


def number_axes(fig: plt.Figure) -> None:
    """Give every numeric axis of ``fig`` that still has Matplotlib's default formatter the house one.

    Axes with their own formatter (dates, categories, percentages) are left alone; so are log axes.
    """
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            formatter = axis.get_major_formatter()
            if isinstance(formatter, mticker.ScalarFormatter) and axis.get_scale() in ("linear", "symlog"):
                thousands(axis)
            elif isinstance(formatter, mticker.LogFormatter) and axis.get_scale() == "symlog":
                thousands(axis)


# -- time -----------------------------------------------------------------------------------------------
def start_date_of(timeseries: pd.DataFrame) -> date | None:
    """The calendar date of day 0, from a timeseries with ``date`` and ``day`` columns (None without dates)."""
    if timeseries is None or "date" not in timeseries or "day" not in timeseries or len(timeseries) == 0:
        return None
    first = pd.Timestamp(timeseries["date"].iloc[0])
    if pd.isna(first):
        return None
    return (first - pd.Timedelta(days=int(timeseries["day"].iloc[0]))).date()


def as_date(value) -> date | None:
    """A date from a ``date``, an ISO string (``summary.json``'s ``start_date``) or None."""
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def time_x(timeseries: pd.DataFrame) -> tuple[np.ndarray, str]:
    """x values of a daily table: its dates when it has them (label ``""``), else day numbers (label ``day``)."""
    if "date" in timeseries and timeseries["date"].notna().all() and len(timeseries):
        return pd.to_datetime(timeseries["date"]).to_numpy(), ""
    return timeseries["day"].to_numpy(), DAY_LABEL


def days_to_dates(days, start: date | None) -> np.ndarray:
    """Day numbers as dates (``start`` + day), or the day numbers when there is no start date."""
    days = np.asarray(days)
    if start is None:
        return days
    return np.datetime64(start, "D") + days.astype("timedelta64[D]")


def date_axis(ax: plt.Axes) -> None:
    """Concise date ticks (``Mar``, ``15``, ``Apr``) on the x axis of ``ax``, the year(s) as the axis label
    (call after plotting: the label reads the axis limits)."""
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator, show_offset=False))
    low, high = (mdates.num2date(value) for value in ax.get_xlim())
    ax.set_xlabel(str(low.year) if low.year == high.year else f"{low.year}–{high.year}", color=INK)


def time_axis(ax: plt.Axes, xlabel: str) -> None:
    """Finish a time x axis drawn with :func:`time_x`: concise dates, or ``day`` numbers labelled."""
    if xlabel == "":
        date_axis(ax)
    else:
        ax.set_xlabel(xlabel, color=INK)


def day_axis(ax: plt.Axes, start: date | None, first_day: int = 0, *, offset: float = 0.0) -> None:
    """For a grid whose x position ``i`` is day ``first_day + i - offset`` (a heat map): date tick labels
    (``1 Mar``) when there is a start date, else whole day numbers labelled ``day``."""
    ax.xaxis.set_major_locator(mticker.MaxNLocator(nbins=9, integer=True))
    if start is None:
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{int(round(v + first_day - offset)):,}"))
        ax.set_xlabel(DAY_LABEL, color=INK)
        return

    def label(value: float, _position=None) -> str:
        day = start + timedelta(days=int(round(value + first_day - offset)))
        return f"{day.day} {day:%b}" + (f" {day:%Y}" if day.month == 1 and day.day <= 7 else "")

    ax.xaxis.set_major_formatter(mticker.FuncFormatter(label))
    ax.set_xlabel(f"date (day 0 = {start.day} {start:%b %Y})", color=INK)


# -- legends and colour bars -----------------------------------------------------------------------------
_LEGEND = {"frameon": True, "facecolor": "white", "framealpha": 0.92, "edgecolor": GRID, "fontsize": 9}


def legend(target, **kwargs):
    """A legend with a white background over the data (``target``: an Axes or a Figure)."""
    return target.legend(**{**_LEGEND, **kwargs})


def legend_above(ax: plt.Axes, **kwargs):
    """A legend above the axes, outside the data (in one row when it fits)."""
    handles, _ = ax.get_legend_handles_labels()
    options = {"loc": "lower left", "bbox_to_anchor": (0, 1.01), "ncol": min(len(handles), 2) or 1,
               "frameon": False, "fontsize": 9, "borderaxespad": 0.2}
    return ax.legend(**{**options, **kwargs})


def legend_below(ax: plt.Axes, **kwargs):
    """A legend under the axes (below the x-axis label), outside the data, in two columns."""
    options = {"loc": "upper left", "bbox_to_anchor": (0, -0.16), "ncol": 2, "frameon": False, "fontsize": 9,
               "borderaxespad": 0}
    return ax.legend(**{**options, **kwargs})


def legend_right(ax: plt.Axes, **kwargs):
    """A legend to the right of the axes, outside the data."""
    options = {"loc": "upper left", "bbox_to_anchor": (1.01, 1), "frameon": False, "fontsize": 9}
    return ax.legend(**{**options, **kwargs})


def colorbar(fig: plt.Figure, image, ax: plt.Axes, label: str, **kwargs):
    """A colour bar with its label (what the colour means, with its unit) and house tick numbers."""
    bar = fig.colorbar(image, ax=ax, **{"fraction": 0.03, "pad": 0.01, **kwargs})
    bar.set_label(label, color=INK, fontsize=9)
    bar.ax.tick_params(labelsize=8, colors=INK)
    thousands(bar.ax.yaxis if bar.orientation == "vertical" else bar.ax.xaxis)
    return bar


# -- saving -----------------------------------------------------------------------------------------------
def save(fig: plt.Figure, path: Path, *, rect: tuple[float, float, float, float] | None = None,
         dpi: int = DPI, tight: bool = True) -> Path:
    """Apply the number style to every axis, lay out (``tight_layout(rect=...)``), write and close."""
    number_axes(fig)
    if tight:
        fig.tight_layout(rect=rect) if rect is not None else fig.tight_layout()
    fig.savefig(Path(path), dpi=dpi)
    plt.close(fig)
    return Path(path)
