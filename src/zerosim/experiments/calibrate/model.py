"""Experiments layer (calibration): one particle's simulation, the summary statistics and the ABC distance.

Layer ``experiments`` -- sits above the API (it assembles runs with :func:`zerosim.api.build`);
imports ``api``, ``io``, ``engine.rng`` and ``population``; never ``cli``.

A particle is a set of parameter values (one per prior). Its simulation runs the scenario with
those values and with its own seed, a stable hash of the calibration seed and the values (so the
same particle always gives the same trajectory), on a city built once per process from the
scenario's own seed and copied for each run (the city is not fitted; only the dynamics differ).
"""

from __future__ import annotations

import copy
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from zerosim.experiments.calibrate.priors import ASCERTAINMENT, Prior
from zerosim.population.state import PopulationState

#: Model series that can be compared with reported cases.
OBSERVABLES = ("cases_detected", "new_infections")

#: One pristine city per process (key: population config and seed), copied for every run.
_CITY_CACHE: dict[str, PopulationState] = {}


def pristine_city(config, seed: int) -> PopulationState:
    """A fresh copy of the city of ``config`` built with ``seed`` (built once per process, then copied).

    A run mutates its state, so every run gets its own deep copy of the pristine city.
    """
    from zerosim.population.synthesis import build_population

    key = json.dumps([config.model_dump(mode="json"), int(seed)], sort_keys=True)
    city = _CITY_CACHE.get(key)
    if city is None:
        _CITY_CACHE.clear()  # keep one city per process: a prior over population.* rebuilds it each time
        city = _CITY_CACHE[key] = build_population(config, seed)
    return copy.deepcopy(city)


@contextmanager
def numba_threads(threads: int | None):
    """Run Numba kernels on ``threads`` threads in this thread, then restore the previous count.

    Many small simulations run faster, and suffer less from a busy machine, on 1 thread each;
    results do not depend on the thread count. None: leave Numba's setting alone.
    """
    if threads is None:
        yield
        return
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield
    finally:
        numba.set_num_threads(before)


def smooth(values: np.ndarray, days: int) -> np.ndarray:
    """Trailing mean over ``days`` days (fewer at the start of the series, and
    over the known days only: NaN marks a day the data do not give); ``days`` <= 1: unchanged.

    Parameters
    ----------
    values : (n,) float64
    """
    values = np.asarray(values, dtype=np.float64)
    if days <= 1 or values.size == 0:
        return values
    known = ~np.isnan(values)  # unknown days (NaN) are left out of the mean
    total = np.cumsum(np.where(known, values, 0.0))
    count = np.cumsum(known).astype(np.float64)
    out_total, out_count = total.copy(), count.copy()
    out_total[days:] = total[days:] - total[:-days]
    out_count[days:] = count[days:] - count[:-days]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(out_count > 0, out_total / out_count, np.nan)


@dataclass(frozen=True)
class SeriesDistance:
    """Distance between a simulated and the observed reported-case series (see docs/calibration.md).

    ``d = sqrt(mean_t (log1p(s_t) - log1p(o_t))^2) + district_weight * TV(p_sim, p_obs)
    + total_weight * |log1p(S) - log1p(O)|``, where
    ``s``, ``o`` are the simulated and observed daily reported cases over the fit window (both
    smoothed by a trailing ``smooth_days``-day mean, observed counts already scaled to the model's
    population), and TV is the total-variation distance between the share of the window's cases by
    district in the model and in the data (0 = same split, 1 = disjoint; only with district data).
    ``S`` and ``O`` are the window's totals over the days the data give: the daily term weighs a day
    of ten cases like a day of ten thousand, so over a long window of quiet days a model that reports
    half the total can still come close; the total term (off by default) makes the total count.
    """

    smooth_days: int = 7
    district_weight: float = 1.0
    total_weight: float = 0.0

    def __call__(self, x: dict, x0: dict) -> float:
        simulated = smooth(x["reported"], self.smooth_days)
        observed = smooth(x0["reported"], self.smooth_days)
        known = ~np.isnan(np.asarray(x0["reported"], dtype=np.float64))  # days the data give
        if not known.any():
            return float("inf")
        distance = float(np.sqrt(np.mean((np.log1p(simulated[known]) - np.log1p(observed[known])) ** 2)))
        if self.district_weight > 0 and "districts" in x0 and "districts" in x:
            distance += self.district_weight * share_distance(x["districts"], x0["districts"])
        if self.total_weight > 0:
            totals = [float(np.sum(np.asarray(series, dtype=np.float64)[known])) for series in (x["reported"], x0["reported"])]
            distance += self.total_weight * abs(float(np.log1p(totals[0]) - np.log1p(totals[1])))
        return distance


def share_distance(simulated: np.ndarray, observed: np.ndarray) -> float:
    """Total-variation distance between two split-by-district vectors (1 when either is all zero)."""
    simulated = np.asarray(simulated, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    if simulated.sum() <= 0 or observed.sum() <= 0:
        return 1.0
    return float(0.5 * np.abs(simulated / simulated.sum() - observed / observed.sum()).sum())


@dataclass(frozen=True)
class ParticleModel:
    """The simulator pyabc calls: parameter values -> summary statistics over the fit window.

    Attributes
    ----------
    scenario_data : the resolved scenario at model scale (JSON-compatible mapping)
    priors : the fitted parameters
    observe : model series compared with reported cases (``cases_detected`` or ``new_infections``)
    first_day, until_day : the fit window (simulation days, inclusive)
    district_index : for district data, the model's district index of each observed district (else empty)
    calibration_seed : mixed into every particle's seed
    threads : Numba threads per simulation (None: Numba's default); results do not depend on it
    """

    scenario_data: dict
    priors: tuple[Prior, ...]
    observe: str
    first_day: int
    until_day: int
    district_index: tuple[int, ...] = ()
    calibration_seed: int = 1
    threads: int | None = None

    # -- parameters ---------------------------------------------------------------------------------
    def values(self, parameter) -> dict[str, float | int]:
        """Dotted path -> value applied (rounded for integer fields) of a pyabc parameter."""
        return {prior.path: prior.cast(float(parameter[prior.key])) for prior in self.priors}

    def particle_seed(self, values: dict[str, float | int]) -> int:
        """The particle's own seed: a stable 63-bit hash of the calibration seed and the values."""
        text = json.dumps([int(self.calibration_seed), [repr(float(values[p.path])) for p in self.priors]])
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1

    def ascertainment(self, values: dict[str, float | int]) -> float:
        return float(values.get(ASCERTAINMENT, 1.0))

    def scenario(self, values: dict[str, float | int], seed: int | None = None):
        """The validated scenario with ``values`` applied (and ``seed``, the dynamics' seed)."""
        from zerosim.io.scenario import apply_overrides

        overrides = {path: value for path, value in values.items() if path != ASCERTAINMENT}
        if seed is not None:
            overrides["seed"] = int(seed)
        return apply_overrides(self.scenario_data, overrides)

    # -- simulation ---------------------------------------------------------------------------------
    def simulate(self, values: dict[str, float | int], seed: int, days: int | None = None,
                 branch_seed: int | None = None, on_day=None):
        """Build and step the particle's simulation for ``days`` days (default: the whole scenario).

        The city comes from the scenario's own seed (``scenario_data["seed"]``); the dynamics from
        ``seed``. With ``branch_seed``, every component's random stream is re-keyed from
        ``branch_seed`` after ``until_day``: the same past, another draw of the future.
        ``on_day(simulation, day)`` is called after each day.
        """
        from zerosim.api import build

        scenario = self.scenario(values, seed)
        city = pristine_city(scenario.population, int(self.scenario_data["seed"]))
        simulation = build(scenario, city)
        days = scenario.duration_days if days is None else min(days, scenario.duration_days)

        def after_day(day: int) -> None:
            if on_day is not None:
                on_day(simulation, day)
            if branch_seed is not None and day == self.until_day:
                simulation.reseed(int(branch_seed))

        with numba_threads(self.threads):
            simulation.run(stop_day=days, after_day=[after_day])
        return scenario, simulation

    def observed_series(self, simulation, days: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The model's observed series for days 0..days-1 (float64), and by district (days x districts) or None."""
        recorder = simulation.recorder
        series = recorder.scalars.get(self.observe)
        series = np.zeros(days) if series is None else series[:days].astype(np.float64)
        by_district = recorder.by_district.get(f"{self.observe}_district")
        if by_district is not None:
            by_district = by_district[:days].astype(np.float64)
        return series, by_district

    def summary(self, values: dict[str, float | int], simulation) -> dict:
        """Summary statistics of a simulation stepped at least through ``until_day``."""
        days = self.until_day + 1
        raw, by_district = self.observed_series(simulation, days)
        share = self.ascertainment(values)
        statistics = {"reported": share * raw[self.first_day:days], "raw": raw}
        if self.district_index:
            window = by_district[self.first_day:days] if by_district is not None \
                else np.zeros((days - self.first_day, max(self.district_index) + 1))
            statistics["districts"] = share * window[:, list(self.district_index)].sum(axis=0)
        return statistics

    def __call__(self, parameter) -> dict:
        """pyabc's model: run the particle through ``until_day`` and return its summary statistics."""
        values = self.values(parameter)
        seed = self.particle_seed(values)
        _, simulation = self.simulate(values, seed, days=self.until_day + 1)
        statistics = self.summary(values, simulation)
        statistics["seed"] = np.array([seed], dtype=np.int64)
        return statistics
