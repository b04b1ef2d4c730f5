"""Every figure of a policy run and of a region run follows the one style (``zerosim.viz.style``):
no legend under a text, a title or an annotation; legends with a background or outside the data;
no axis with an offset or a ``1e6`` multiplier; labelled colour bars; dates on time axes when the
scenario has a start date (issue 18, item 3). Extents come from Matplotlib's renderer."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.figure import Figure

import zerosim
from zerosim.region.config import load_region
from zerosim.region.results import run_region


@pytest.fixture(scope="module")
def captured(tmp_path_factory):
    """Run a small policy run and a small region run, keeping every figure they draw open: {file name: Figure}."""
    figures: dict[str, Figure] = {}
    real_close, real_save = plt.close, Figure.savefig

    def keep(self, path, *args, **kwargs):
        figures[Path(path).name] = self
        return real_save(self, path, *args, **kwargs)

    mp = pytest.MonkeyPatch()
    mp.setattr(plt, "close", lambda *args, **kwargs: None)
    mp.setattr(Figure, "savefig", keep)
    try:
        out = tmp_path_factory.mktemp("style")
        zerosim.run("demo", overrides={"population.size": 6000, "duration_days": 45, "policy": "dynamic-zero-2022",
                                       "seeding.0.count": 20}, out=out / "policy")
        region = load_region("diverted-train", {
            "duration_days": 20, "cities.0.population_size": 3000, "cities.1.population_size": 3000,
            "cities.2.population_size": 3000, "travel.volume_multiplier": 10, "outputs.city_figures": False})
        run_region(region, out=out / "region")
        # the comparison figure (a run against itself) and the ensemble figure (bands from the run's series)
        from zerosim.experiments.ensemble import BAND_SERIES, QUANTILES
        from zerosim.io.compare import compare_runs
        from zerosim.viz.figures import ensemble_bands
        from zerosim.viz.ledger_figures import comparison_figure

        comparison_figure(compare_runs([out / "policy", out / "policy"]), out / "comparison.png")
        series = pd.read_parquet(out / "policy" / "timeseries.parquet")
        bands = pd.concat([series[["day", *[c for c in BAND_SERIES if c in series]]].assign(sweep=0, quantile=q)
                           for q in QUANTILES], ignore_index=True)
        ensemble_bands(bands, [{}], "demo", out / "ensemble_bands.png", start_date="2022-03-01")
    finally:
        mp.undo()
    yield figures
    for figure in figures.values():
        real_close(figure)


EXPECTED = {"epidemic_curve.png", "infections_by_district.png", "testing_and_backlog.png", "people_by_zone.png",
            "district_lockdown_grid.png", "confinement_distribution.png", "food_shortfall.png", "income_lost.png",
            "stores.png", "resistance_pressure.png", "region.png", "comparison.png", "ensemble_bands.png"}


def _texts(figure: Figure) -> list[tuple[str, matplotlib.text.Text]]:
    """Every visible, non-empty text of the figure: figure texts, titles, axes texts and annotations."""
    found = [("figure text", text) for text in figure.texts]  # the suptitle is one of them
    if figure._suptitle is not None and figure._suptitle not in figure.texts:
        found.append(("figure text", figure._suptitle))
    for k, ax in enumerate(figure.axes):
        found += [(f"axes {k} title", title) for title in (ax.title, ax._left_title, ax._right_title)]
        found += [(f"axes {k} text", text) for text in ax.texts]
    return [(what, text) for what, text in found if text.get_visible() and text.get_text().strip()]


def test_every_figure_was_drawn(captured):
    assert EXPECTED <= set(captured), EXPECTED - set(captured)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_no_legend_over_a_text_and_legends_readable(captured, name):
    figure = captured[name]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    legends = [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None] + list(figure.legends)
    texts = _texts(figure)
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for what, text in texts:
            assert not box.overlaps(text.get_window_extent(renderer)), \
                f"{name}: legend {[t.get_text() for t in legend.get_texts()]} over {what} {text.get_text()!r}"
        if legend.get_frame_on() and legend.get_frame().get_alpha() not in (None,):
            assert legend.get_frame().get_alpha() >= 0.8, name
        if not legend.get_frame_on():  # no background: then it must stay off every plotting area
            for ax in figure.axes:
                assert not box.overlaps(ax.get_window_extent(renderer)), f"{name}: unframed legend over the data"
    # figure-level texts and titles do not run into each other
    for (what_a, a), (what_b, b) in itertools.combinations(
            [(w, t) for w, t in texts if not w.endswith(" text") or w == "figure text"], 2):
        assert not a.get_window_extent(renderer).overlaps(b.get_window_extent(renderer)), \
            f"{name}: {what_a} {a.get_text()[:40]!r} over {what_b} {b.get_text()[:40]!r}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_numbers_without_multiplier_and_dates_on_time_axes(captured, name):
    figure = captured[name]
    figure.canvas.draw()
    for k, ax in enumerate(figure.axes):
        for axis in (ax.xaxis, ax.yaxis):
            assert axis.get_offset_text().get_text() == "", f"{name}: axes {k} has an offset/multiplier"
            labels = [label.get_text() for label in axis.get_ticklabels() if label.get_text()]
            assert not any("e+" in label or "×10" in label or "1e" in label for label in labels), (name, labels)
            big = [label for label in labels if label.replace("−", "").replace("-", "").isdigit()
                   and len(label.replace("−", "").replace("-", "")) > 4]
            assert not big, f"{name}: axes {k} tick labels without thousands separators: {big}"
        # the scenarios have a start date: no time axis is left in day numbers
        assert ax.get_xlabel() != "day", f"{name}: axes {k} counts days instead of showing dates"
        if ax.get_label() == "<colorbar>":
            assert ax.get_ylabel() or ax.get_xlabel(), f"{name}: a colour bar without a label"


#: Figures with a time axis (the others plot distributions, totals or categories).
TIME_FIGURES = EXPECTED - {"confinement_distribution.png", "income_lost.png", "comparison.png"}


@pytest.mark.parametrize("name", sorted(TIME_FIGURES))
def test_time_axes_show_dates(captured, name):
    import matplotlib.dates as mdates

    figure = captured[name]
    figure.canvas.draw()
    dated = [ax for ax in figure.axes
             if isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
             or ax.get_xlabel().startswith("date (day 0 = ")]
    labelled = [[label.get_text() for label in ax.get_xticklabels() if label.get_text()] for ax in dated]
    labelled = [labels for labels in labelled if labels]  # axes sharing x above the bottom one show no labels
    assert labelled, f"{name}: no axis shows dates"
    for labels in labelled:
        assert any(month in " ".join(labels) for month in ("Mar", "Apr", "Aug")), (name, labels)
