"""Experiments layer (calibration): fit a scenario to observed cases (ABC-SMC) and forecast from the fit.

Layer ``experiments`` -- sits above the API (like ``cli``): it assembles runs with
:func:`zerosim.api.build` and writes its own output directories; the CLI is a thin shell over
:func:`calibrate` and :func:`forecast`. pyabc is an optional extra (``pip install 'zerosim[calibrate]'``);
only :func:`calibrate` (and :func:`forecast` without a posterior) need it.
"""

from __future__ import annotations

from zerosim.experiments.calibrate.fit import (
    CalibrationResult,
    Scale,
    Settings,
    calibrate,
    load_spec,
    require_pyabc,
)
from zerosim.experiments.calibrate.forecast import ForecastResult, forecast
from zerosim.experiments.calibrate.observed import ObservedData, builtin_series, load_observed
from zerosim.experiments.calibrate.priors import Prior, parse_prior

__all__ = [
    "CalibrationResult",
    "ForecastResult",
    "ObservedData",
    "Prior",
    "Scale",
    "Settings",
    "builtin_series",
    "calibrate",
    "forecast",
    "load_observed",
    "load_spec",
    "parse_prior",
    "require_pyabc",
]
