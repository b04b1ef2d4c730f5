"""The validation scorecard: zerosim's built-ins against the published record, line by line.

Usage::

    python bench/validation.py                       # the full card: 1/10 scale, 5 seeds (about an hour on 2 cores)
    python bench/validation.py --scale 0.01 --seeds 3 --out docs/validation   # a cheaper card
    python bench/validation.py --quick               # the small card the test suite runs (a minute or two)
    python bench/validation.py --only growth,severity

Each line has a target (a range), its source, the value zerosim gives and pass/fail. The card is
written as ``scorecard.json`` (every line, with the command that made it) and ``scorecard.md`` (the
tables pasted into docs/validation.md) under ``--out``. Nothing is tuned here: the runs use the
shipped scenario files with no ``--set``, apart from the size (``population.size``) and the seed.

Sections:

- ``growth``: with no measures, each variant's early growth rate in the demo city (Shanghai's
  districts, age structure and vaccination) against doubling times published for cities without
  containment.
- ``severity``: the infection fatality ratio of BA.2 in that city, overall and by age, against the
  Hong Kong 2022 wave (case fatality x ascertainment) and Shanghai's own count.
- ``testing``: the false-negative rate of one PCR swab by day since infection against the pooled
  clinical studies.
- ``scale``: ``shanghai-2022`` per-capita results at two (or three) scales.
- ``builtins``: the four real outbreaks against their reported series, release dates and loads.
- ``ledger``: ``shanghai-2022``'s costs against what was reported or surveyed.
- ``leaks``: what the containment leaves to chance, against what was reported.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

import zerosim
from zerosim.experiments.calibrate.observed import load_observed

SECTIONS = ("growth", "severity", "testing", "scale", "builtins", "ledger", "leaks")


@dataclass
class Line:
    """One comparison: ``measured`` passes when it lies in [lo, hi] (either bound may be open)."""

    section: str
    quantity: str
    lo: float | None
    hi: float | None
    measured: float | None
    unit: str
    source: str
    detail: str = ""
    spread: list[float] = field(default_factory=list)  # the value per seed, where there are seeds

    @property
    def passed(self) -> bool:
        if self.measured is None or not math.isfinite(self.measured):
            return False
        return bool((self.lo is None or self.measured >= self.lo) and (self.hi is None or self.measured <= self.hi))

    def target(self) -> str:
        if self.lo is not None and self.hi is not None:
            return f"{_fmt(self.lo)} – {_fmt(self.hi)}"
        return f"≥ {_fmt(self.lo)}" if self.lo is not None else f"≤ {_fmt(self.hi)}"


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 0.1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:.3g}"


# --------------------------------------------------------------------------------------------- runs
class Runner:
    """Runs scenarios in this process (no files written) and keeps their results for reuse."""

    def __init__(self, progress: Callable[[str], None]):
        self.cache: dict[tuple, zerosim.Results] = {}
        self.progress = progress

    def run(self, scenario: str, size: int, seed: int, **overrides) -> zerosim.Results:
        key = (scenario, size, seed, tuple(sorted(overrides.items())))
        if key not in self.cache:
            started = time.perf_counter()
            self.cache[key] = zerosim.run(scenario, overrides={"population.size": size, "seed": seed, **overrides},
                                          figures=False)
            extra = " ".join(f"{k}={v}" for k, v in overrides.items())
            self.progress(f"  {scenario} n={size:,} seed={seed} {extra} ({time.perf_counter() - started:.0f} s)")
        return self.cache[key]


def full_size(scenario: str) -> int:
    return zerosim.load_scenario(scenario).population.size


def growth_rate(new_infections: np.ndarray, population: int) -> float:
    """Early exponential growth rate (per day): log-linear fit while 0.1-2 % of the city is infected."""
    cumulative = np.cumsum(new_infections)
    window = np.flatnonzero((cumulative >= 0.001 * population) & (cumulative <= 0.02 * population)
                            & (new_infections > 0))
    if window.size < 3:  # too fast (or too slow) for the window: widen it to the first doubling phase
        window = np.flatnonzero((cumulative >= 20) & (cumulative <= 0.05 * population) & (new_infections > 0))
    if window.size < 3:
        return float("nan")
    return float(np.polyfit(window, np.log(new_infections[window]), 1)[0])


def infections_by_age(results: zerosim.Results) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(infected, dead, band labels) by age band over the run, from by_age_band.parquet's columns."""
    table = results.by_age_band
    first = table[table["day"] == table["day"].min()].set_index("age_band")
    last = table[table["day"] == table["day"].max()].set_index("age_band")
    bands = list(first.index)
    infected = (first["susceptible"] - last["susceptible"]).to_numpy(dtype=float)
    dead = last["dead"].to_numpy(dtype=float)
    return infected, dead, bands


def release_date(results: zerosim.Results, start: date) -> date | None:
    """The first day after the last day the whole city was sealed (None if it never was)."""
    sealed = np.flatnonzero(results.timeseries["city_sealed"].to_numpy() > 0)
    return None if sealed.size == 0 else start + timedelta(days=int(sealed[-1]) + 1)


# ------------------------------------------------------------------------------------------ sections
# Early growth without measures. r = ln 2 / doubling time. Ranges are the published doubling times of
# cities and countries without a lockdown; where a variant met prior immunity there, the rate is a
# lower bound for a city without prior infection (Shanghai 2022), so the upper ends are widened as stated.
#: Variants whose target comes from an unvaccinated population: grown in the demo city without vaccination.
UNVACCINATED_SETTING = {"ancestral", "delta"}
GROWTH_TARGETS = {
    "ancestral": (math.log(2) / 7.4, math.log(2) / 2.3,
                  "Wuhan Dec 2019-Jan 2020: doubling 7.4 d (Li Q et al., NEJM 2020;382:1199) and 6.4 d (Wu JT et al., "
                  "Lancet 2020;395:689); 2.3-3.3 d (Sanche S et al., Emerg Infect Dis 2020;26:1470)"),
    "delta": (math.log(2) / 5.0, math.log(2) / 2.0,
              "ASSUMPTION bracketed by sources: Delta GI 3.8 d (Park SW et al., PNAS 2023) with R 2.5-6 "
              "(Liu Y, Rocklov J, J Travel Med 2021;28:taab124, R0 5.08) gives doubling 2-5 d"),
    "omicron_ba2": (math.log(2) / 3.6, math.log(2) / 1.9,
                    "doubling 3.38 d (3.18-3.61), Gauteng (Grabowski F et al., medRxiv 2021.12.08.21267494); "
                    "about 2 d, Denmark and England (SSI via Bloomberg 2021-12-10; UK health secretary 2021-12-14); "
                    "~3.2 d Hong Kong Feb 2022 (validity-sources.md s.3)"),
    "omicron_ba5": (math.log(2) / 3.6, math.log(2) / 1.9 + 0.11,
                    "BA.2's range plus BA.5's growth advantage 0.08-0.11/d (Tegally H et al., Nat Med 2022;28:1785); "
                    "Beijing BF.7 Rt 3.44 (2.82-4.14) after the 20 measures (Leung K et al., Nat Med 2023;29:579)"),
}

# BA.2 infection fatality in the Shanghai city with no measures. Hong Kong's fifth wave: crude IFR
# 9,290 deaths / (45 % x 7.3 M) = 0.28 % (Lau JJ et al., Nat Med 2023;29:348) with worse elderly
# coverage than Shanghai's; Shanghai's own count, 588 deaths of ~626,000 reported infections to 31 May
# 2022 (Shanghai Health Commission; shanghai_2022_cases.csv), is a floor (deaths attributed narrowly).
IFR_TARGET = (0.0009, 0.0028, "floor: Shanghai 2022, 588 deaths / 626,000 reported (CFR 0.094 %); ceiling: "
              "Hong Kong 5th wave crude IFR 0.28 % (Lau JJ et al., Nat Med 2023;29:348), whose 60+ were less "
              "vaccinated than Shanghai's (validity-sources.md s.2)")
# 80+: Hong Kong CFR 9.2 % (Chen LL et al., Nat Commun 2022;13:3618) to 11.8 % not fully vaccinated
# (CHP 2022-03-26) x ascertainment 0.38-0.45 (Lau et al.) = 3.5-5.3 %, with 80+ coverage of 18 % (HK)
# against ~15 % (Shanghai); widened by 1.5x either way for the mix of doses.
IFR_80_TARGET = (0.023, 0.080, "Hong Kong 80+ CFR 9.2-11.8 % (Chen LL et al., Nat Commun 2022; CHP 2022-03-26) x "
                 "ascertainment 0.38-0.45 (Lau JJ et al., Nat Med 2023) = 3.5-5.3 %, widened 1.5x")
# 60-69: HK unvaccinated CFR 1.59 %, 1 dose 0.53 % (CHP infographic); Shanghai 60-69 about 89 % two
# doses (mid-2022 national, validity-sources.md s.2) -> mostly vaccinated; x 0.41 ascertainment.
IFR_60_TARGET = (0.0005, 0.0065, "Hong Kong 60-69 CFR 1.59 % unvaccinated, 0.53 % one dose (CHP infographic) x "
                 "ascertainment 0.41 (Lau et al.) = 0.22-0.65 %; floor widened for the two-dose majority")


# Mean generation interval (infection to infection), from the model's own course sampler.
GENERATION_TARGETS = {
    "ancestral": (3.95, 6.78, "5.20 d (3.78-6.78) Singapore, 3.95 d (2.95-4.95) Tianjin (Ganyani T et al., Euro Surveill "
                              "2020;25:2000257); 5.0 d (Ferretti L et al., Science 2020;368:eabb6936)"),
    "delta": (3.7, 5.6, "3.8 d (3.7-4.0) growth-adjusted, Netherlands (Park SW et al., PNAS 2023;120:e2221887120); "
                        "intrinsic 4.7 d (4.1-5.6) (Hart WS et al., Lancet Infect Dis 2022;22:603)"),
    "omicron_ba2": (2.48, 3.49, "Omicron 3.0 d (2.7-3.2) (Park SW et al., PNAS 2023); realised BA.1 2.99 d (2.48-3.49), "
                                "meta-analysis (Xu X et al., BMC Med 2023); Beijing BA.2 serial interval median 3.0 d "
                                "(Du J et al., Chin J Epidemiol 2022)"),
    "omicron_ba5": (1.71, 3.6, "serial interval 2.37 d (1.71-3.04), pooled (Xu X et al., BMC Med 2023); 2.7 d (2.1-3.6) "
                               "Hong Kong (Guo Z et al., Influenza Other Respir Viruses 2023;17:e13105)"),
}


def generation_interval(variant: str, n: int = 5_000) -> float:
    """Mean days from infection to onward infection: the infectiousness-weighted mean day of the model's courses."""
    from zerosim.disease.components import NaturalHistory, course_table
    from zerosim.disease.kernels import log10_viral_load
    from zerosim.engine.rng import component_rng
    from zerosim.population.config import PopulationConfig
    from zerosim.population.synthesis import build_population

    disease = zerosim.load_scenario("well-mixed", {"disease.variant": variant}).disease.resolve()
    state = build_population(PopulationConfig(size=n, vaccinate=False), 5)
    component = NaturalHistory(config=disease, hospitalised_transmit=True)
    component.setup(state, component_rng(1, "generation"))
    ids = np.arange(n)
    component.infect(state, ids, 0, component_rng(1, "generation"))
    scale = course_table(state, ids)["infectiousness_scale"].astype(float)
    vl = disease.viral_load
    taus = np.arange(60)
    weight = np.array([sum(max(0.0, log10_viral_load(tau, a, b, c, d, vl.detection_limit_log10)
                                - vl.infectious_threshold_log10) * s
                           for a, b, c, d, s in zip(state.day_viral_detectable, state.day_viral_peak,
                                                    state.day_viral_clear, state.viral_peak_log10, scale))
                       for tau in taus])
    return float((weight * taus).sum() / weight.sum())


def section_growth(runner: Runner, size: int, seeds: list[int]) -> list[Line]:
    lines = []
    for variant, (lo, hi, source) in GENERATION_TARGETS.items():
        lines.append(Line("growth", f"{variant}: mean generation interval", lo, hi, generation_interval(variant),
                          "days", source))
    for variant, (lo, hi, source) in GROWTH_TARGETS.items():
        rates, peaks = [], []
        setting = {"population.vaccinate": False} if variant in UNVACCINATED_SETTING else {}
        for seed in seeds:
            results = runner.run("demo", size, seed, **{"disease.variant": variant, "duration_days": 120, **setting})
            new = results.timeseries["new_infections"].to_numpy().astype(float)
            rates.append(growth_rate(new, size))
            peaks.append(int(np.argmax(new)))
        where = "unvaccinated city" if setting else "Shanghai's 2022 vaccination"
        lines.append(Line("growth", f"{variant}: early growth rate, no measures ({where})", lo, hi,
                          float(np.nanmedian(rates)),
                          "per day", source, detail=f"doubling {math.log(2) / np.nanmedian(rates):.1f} d; "
                          f"peak incidence on day {int(np.median(peaks))}", spread=rates))
    # Beijing's exit wave (BF.7, no more zero-COVID): incidence peaked 23 days after Rt rose to 3.44 on
    # 18 Nov (peak 11 Dec) with 43 % infected by 14 Dec and 76 % by 22 Dec (Leung et al., Nat Med 2023).
    peak_days = []
    for seed in seeds:
        results = runner.run("demo", size, seed, **{"disease.variant": "omicron_ba5", "duration_days": 120})
        peak_days.append(int(np.argmax(results.timeseries["new_infections"].to_numpy())))
    lines.append(Line("growth", "omicron_ba5: days from seeding to peak incidence, no measures", 18, 60,
                      float(np.median(peak_days)), "days",
                      "Beijing Nov-Dec 2022: Rt 3.44 on 18 Nov, peak 11 Dec (23 d) with 43 % infected by 14 Dec "
                      "(Leung K et al., Nat Med 2023;29:579); seeding 20 infections in 1 M is earlier than 18 Nov",
                      spread=[float(day) for day in peak_days]))
    return lines


def section_severity(runner: Runner, size: int, seeds: list[int]) -> list[Line]:
    infected = dead = None
    for seed in seeds:
        results = runner.run("demo", size, seed, **{"disease.variant": "omicron_ba2", "duration_days": 120})
        i, d, bands = infections_by_age(results)
        infected = i if infected is None else infected + i
        dead = d if dead is None else dead + d
    ifr = dead / np.maximum(infected, 1)
    total = dead.sum() / max(infected.sum(), 1)
    lines = [Line("severity", "omicron_ba2: infection fatality ratio, Shanghai city, no measures", IFR_TARGET[0],
                  IFR_TARGET[1], float(total), "share", IFR_TARGET[2],
                  detail=f"{int(dead.sum()):,} deaths of {int(infected.sum()):,} infections over {len(seeds)} seed(s)")]
    index = {band: k for k, band in enumerate(bands)}
    lines.append(Line("severity", "omicron_ba2: IFR aged 80+", IFR_80_TARGET[0], IFR_80_TARGET[1],
                      float(ifr[index["80+"]]), "share", IFR_80_TARGET[2]))
    lines.append(Line("severity", "omicron_ba2: IFR aged 60-69", IFR_60_TARGET[0], IFR_60_TARGET[1],
                      float(ifr[index["60-69"]]), "share", IFR_60_TARGET[2]))
    return lines


# RT-PCR false-negative rate by day since exposure, pooled from 7 studies (Kucirka LM et al., Ann Intern
# Med 2020;173:262; shared/data/pcr_false_negative_by_day_kucirka2020.csv): median (95 % CI).
KUCIRKA_FNR = {1: (1.00, 1.00, 1.00), 4: (0.67, 0.27, 0.94), 5: (0.38, 0.18, 0.65), 8: (0.20, 0.12, 0.30), 9: (0.21, 0.13, 0.31),
               21: (0.66, 0.54, 0.77)}


def false_negative_by_day(variant: str, days: Iterable[int], n: int = 20_000) -> dict[int, float]:
    """Share of infected people whose single-tube PCR swab is negative, by day since infection: the
    model's own courses and its testing component's tube outcome (swab variation, failed swabs, assay)."""
    from zerosim.disease.components import NaturalHistory
    from zerosim.engine.registry import component_class
    from zerosim.engine.rng import component_rng
    from zerosim.policy.config import TestingConfig
    from zerosim.population.config import PopulationConfig
    from zerosim.population.synthesis import build_population

    disease = zerosim.load_scenario("well-mixed", {"disease.variant": variant}).disease.resolve()
    state = build_population(PopulationConfig(size=n, vaccinate=False), 11)
    history = NaturalHistory(config=disease, hospitalised_transmit=True)
    history.setup(state, component_rng(1, "fnr"))
    ids = np.arange(n, dtype=np.int32)
    history.infect(state, ids, 0, component_rng(1, "fnr"))
    testing = component_class("testing")(config=TestingConfig(), viral_load=disease.viral_load, quarantine_test_days=())
    rng = np.random.default_rng(5)
    result = {}
    for day in days:
        batch = testing._tube_batch(state, ids, np.arange(n + 1, dtype=np.int64), day, rng)
        result[day] = float(1.0 - np.mean(batch.flags & 1))
    return result


def section_testing(runner: Runner, size: int, seeds: list[int]) -> list[Line]:
    fnr = false_negative_by_day("ancestral", KUCIRKA_FNR)
    return [Line("testing", f"ancestral: single-swab PCR false-negative rate, day {day} after infection", lo, hi,
                 fnr[day], "share", f"Kucirka LM et al., Ann Intern Med 2020;173:262: {median:.0%} "
                 f"({lo:.0%}-{hi:.0%}), 7 studies, 1,330 samples") for day, (median, lo, hi) in KUCIRKA_FNR.items()]


# Real outbreaks. Reported series = the model's cases found by testing x the share of them reported,
# as fitted or sourced per city (docs/validation.md); counts compared per head of the full city.
BUILTINS = {
    "shanghai-2022": {"series": "shanghai_2022_cases", "ascertainment": 0.57, "release": date(2022, 6, 1),
                      "release_source": "citywide lockdown lifted 1 June 2022 (docs/scenarios.md)"},
    "wuhan-2020": {"series": "wuhan_2020_cases", "ascertainment": 0.54, "release": date(2020, 4, 8),
                   "release_source": "outbound travel ban lifted 8 April 2020 (docs/scenarios.md)"},
    "chongqing-2022": {"series": "chongqing_2022_cases", "ascertainment": 0.51, "release": None,
                       "release_source": ""},
    "shijiazhuang-2021": {"series": None, "ascertainment": 1.0, "release": date(2021, 1, 29),
                          "release_source": "home confinement lifted in phases from 29 January 2021 (docs/scenarios.md)"},
}


def _reported(results: zerosim.Results, ascertainment: float, scale: float, start: date) -> pd.Series:
    detected = results.timeseries["cases_detected"].to_numpy(dtype=float) * ascertainment / scale
    index = pd.date_range(pd.Timestamp(start), periods=detected.size, freq="D")
    return pd.Series(detected, index=index)


def outbreak_measures(name: str, results: zerosim.Results, start: date, size: int, scale: float) -> dict[str, float]:
    """A built-in's measures beyond its reported series, for its lines in section_builtins (and for
    bench/select_particle.py): shares of the city infected in a window, deaths over the reported count."""
    new = pd.Series(results.timeseries["new_infections"].to_numpy(dtype=float),
                    index=pd.date_range(pd.Timestamp(start), periods=len(results.timeseries)))
    if name == "wuhan-2020":  # serosurveys of 14-15 April 2020; 3,869 deaths reported after the 17 April revision
        return {"infected_by_15_apr": float(new[:"2020-04-15"].sum()) / size,
                "deaths_over_reported": float(results.timeseries["new_deaths"].sum()) / scale / 3_869}
    if name == "chongqing-2022":
        return {"infected_november": float(new["2022-11-01":"2022-11-30"].sum()) / size,
                "infected_8_15_dec": float(new["2022-12-08":"2022-12-15"].sum()) / size}
    return {}


def section_builtins(runner: Runner, scale: float, seeds: list[int]) -> list[Line]:
    lines = []
    for name, spec in BUILTINS.items():
        scenario = zerosim.load_scenario(name)
        size = max(2_000, round(scenario.population.size * scale))
        actual_scale = size / scenario.population.size
        runs = [runner.run(name, size, seed) for seed in seeds]
        start = scenario.start_date
        series = [_reported(results, spec["ascertainment"], actual_scale, start) for results in runs]
        if spec["series"] is not None:
            observed = load_observed(spec["series"]).cases.dropna()
            model = pd.concat(series, axis=1).reindex(observed.index)
            lo, hi = model.quantile(0.05, axis=1), model.quantile(0.95, axis=1)
            inside = float(((observed >= lo) & (observed <= hi)).mean())
            lines.append(Line("builtins", f"{name}: reported days inside the {len(seeds)}-seed 90 % band", 0.5, 1.0,
                              inside, "share of days", f"built-in series {spec['series']} (SOURCES.md)",
                              detail=f"{len(observed)} reported days"))
            totals = [float(s.reindex(observed.index).sum()) for s in series]
            ratio = float(np.median(totals)) / float(observed.sum())
            lines.append(Line("builtins", f"{name}: cumulative reported, model / reported", 1 / 1.5, 1.5, ratio,
                              "ratio", f"{spec['series']}: {observed.sum():,.0f} reported "
                              f"{observed.index[0].date()} - {observed.index[-1].date()}",
                              spread=[t / float(observed.sum()) for t in totals]))
        else:  # Shijiazhuang: 560 cases (326 confirmed + 234 asymptomatic) found in Hebei 2-12 Jan 2021
            window = pd.date_range("2021-01-02", "2021-01-12")
            totals = [float(s.reindex(window).sum()) for s in series]
            lines.append(Line("builtins", f"{name}: cases found 2-12 Jan 2021, model / reported", 1 / 1.5, 1.5,
                              float(np.median(totals)) / 560, "ratio",
                              "Hebei: 326 confirmed + 234 asymptomatic by 12 Jan (Global Times 2021-01-12; "
                              "hebei_shijiazhuang_2021_reported_points.csv)", spread=[t / 560 for t in totals]))
        if spec["release"] is not None:
            offsets = []
            for results in runs:
                released = release_date(results, start)
                end = start + timedelta(days=scenario.duration_days)
                offsets.append(float(((released or end) - spec["release"]).days))
            lines.append(Line("builtins", f"{name}: city released, days after the real date", -7, 7,
                              float(np.median(offsets)), "days", spec["release_source"], spread=offsets,
                              detail="not released by the end counts as released on the last day"))
        if name == "shanghai-2022":
            # Isolation: peak occupancy city-level 86,400 + district-level 184,800 fangcang beds (press
            # conferences 2022-04-14, 2022-05-06); quarantine: ~150,000 close contacts isolated (7 Apr,
            # Bloomberg via Straits Times). "Of the order": within a factor 3.
            for column, reported, source in (
                    ("in_isolation", 271_200, "fangcang peaks: city-level 86,400 + district-level 184,800 "
                                              "(press conferences 2022-04-14, 2022-05-06)"),
                    ("in_central_quarantine", 150_000, "~150,000 close contacts in central quarantine on 7 Apr 2022 "
                                                       "(Bloomberg via Straits Times)")):
                values = [float(r.timeseries[column].max()) / actual_scale for r in runs]
                lines.append(Line("builtins", f"{name}: peak {column.replace('_', ' ')}, model / reported",
                                  1 / 3, 3, float(np.median(values)) / reported, "ratio", source,
                                  detail=f"model median {np.median(values):,.0f} at full scale",
                                  spread=[v / reported for v in values]))
        if name == "wuhan-2020":
            # Infections, not cases: the serosurveys done as the closure ended. Everyone infected by 15 April
            # 2020 (the household survey's baseline was 14-15 April) as a share of the city.
            measures = [outbreak_measures(name, results, start, size, actual_scale) for results in runs]
            shares = [m["infected_by_15_apr"] for m in measures]
            lines.append(Line("builtins", f"{name}: infected by 15 April 2020, share of city", 0.032, 0.069,
                              float(np.median(shares)), "share",
                              "serosurveys at the end of the closure: 6.92 % adjusted, 9,542 residents of about 3,600 "
                              "households sampled at random, 14-15 April 2020 (He Z et al., Lancet 2021;397:1075); "
                              "3.2-3.8 % (Xu X et al., Nat Med 2020;26:1193); 3.77 % of 35,326 in four communities, "
                              "23 April-24 May (Han H et al., mSphere 2021;6:e01062-20)", spread=shares))
            deaths = [m["deaths_over_reported"] for m in measures]
            lines.append(Line("builtins", f"{name}: COVID deaths to 30 April 2020, model / reported", 1 / 1.5, 1.5,
                              float(np.median(deaths)), "ratio",
                              "3,869 deaths reported after the revision of 17 April 2020 (Wuhan headquarters); "
                              "registries: 5,954 excess deaths in Wuhan Jan-Mar 2020, 3,653 of them COVID "
                              "pneumonia and 4,573 all pneumonia (Liu J et al., BMJ 2021;372:n415), ratios 0.94-1.18",
                              spread=deaths))
        if name == "chongqing-2022":
            measures = [outbreak_measures(name, results, start, size, actual_scale) for results in runs]
            before = [m["infected_november"] for m in measures]
            after = [m["infected_8_15_dec"] for m in measures]
            lines.append(Line("builtins", f"{name}: infected in November (November wave), share of city", 0.001, None,
                              float(np.median(before)), "share",
                              "Chongqing reported 4,000-8,900 a day in late November 2022 (chongqing_2022_cases.csv); "
                              "a wave, not a handful", spread=before))
            lines.append(Line("builtins", f"{name}: infected 8-15 Dec (exit wave), share of city", 0.01, None,
                              float(np.median(after)), "share",
                              "exit wave after the 'new 10' of 7 Dec: Beijing 43 % infected by 14 Dec "
                              "(Leung K et al., Nat Med 2023); ASSUMPTION: Chongqing at least 1 % in that week",
                              spread=after))
    return lines


def section_scale(runner: Runner, scales: list[float], seeds: list[int]) -> list[Line]:
    """Per-capita results of shanghai-2022 at each scale: the smaller scales must agree with the largest."""
    name = "shanghai-2022"
    city = full_size(name)
    measures = {
        "attack rate": lambda r, n: r.summary["infections"] / n,
        "detected per 100,000": lambda r, n: r.summary["cases_detected"] / n * 1e5,
        "deaths per 100,000": lambda r, n: r.summary["deaths"] / n * 1e5,
        "days the city is sealed": lambda r, n: float(r.summary["city_sealed_days"]),
    }
    values: dict[float, dict[str, list[float]]] = {}
    for scale in scales:
        size = max(2_000, round(city * scale))
        runs = [runner.run(name, size, seed) for seed in seeds]
        values[scale] = {label: [fn(r, size) for r in runs] for label, fn in measures.items()}
    reference = max(scales)
    lines = []
    for scale in sorted(scales):
        if scale == reference:
            continue
        for label in measures:
            small, large = np.array(values[scale][label]), np.array(values[reference][label])
            # agreement: the median at the smaller scale over the median at the larger, within the
            # factor 1.5 the card asks of the real outbreaks' totals (both 0: agreement)
            low, high = float(np.median(small)), float(np.median(large))
            ratio = 1.0 if low == high == 0 else (low / high if high else float("inf"))
            lines.append(Line("scale", f"{name}: {label}, 1/{round(1 / scale)} over 1/{round(1 / reference)} (medians)",
                              1 / 1.5, 1.5, ratio, "ratio",
                              "issue #14: per-capita results must not depend on --population",
                              detail=f"medians {low:.4g} vs {high:.4g}; ranges {small.min():.4g}-{small.max():.4g} "
                                     f"vs {large.min():.4g}-{large.max():.4g}", spread=list(small)))
    return lines


def section_ledger(runner: Runner, scale: float, seeds: list[int]) -> list[Line]:
    name = "shanghai-2022"
    scenario = zerosim.load_scenario(name)
    size = max(2_000, round(scenario.population.size * scale))
    runs = [runner.run(name, size, seed) for seed in seeds]
    ran_out = [r.summary["ledger"]["households_ran_out"] / max(r.summary["households"], 1) for r in runs]
    # elderly people living alone (no group buying without a member under 65): reported for the record, no target
    alone = [r.summary["ledger"]["elderly_alone_ran_out"]
             / max(r.summary["ledger"].get("elderly_alone_households", 0), 1) for r in runs]
    failed = [r.summary["ledger"]["stores_failed"] / max(r.summary["ledger"].get("stores", 0) or 1, 1) for r in runs]
    # Expected all-cause deaths on the days the city was sealed: China's crude death rate 7.18 per 1,000
    # in 2021 (NBS Statistical Communique 2022-02-28). Wuhan Jan-Mar 2020: 5,954 excess deaths, 4,573 of
    # them pneumonia (COVID), on a 56 % excess (Liu J et al., BMJ 2021;372:n415) -> non-COVID excess
    # about 0.56 x 1,381 / 5,954 = 13 % of expected deaths during a lockdown with COVID overwhelming care.
    excess = []
    for r in runs:
        sealed_days = max(r.summary["city_sealed_days"], 1)
        expected = size * 7.18e-3 * sealed_days / 365
        excess.append(r.summary["ledger"]["excess_non_covid_deaths"] / expected)
    return [
        Line("ledger", f"{name}: households that ran out of food at least once", 0.05, 0.70, float(np.median(ran_out)),
             "share", "~70 % food insecure (adapted HFIAS, any degree) among 3,230 adults in the lockdown (Liu Y et al., "
             "Glob Public Health 2023;18:2246066): the ceiling for running out entirely; ASSUMPTION floor 5 %. "
             "No survey of running out entirely was found (docs/ledger.md 2.1)",
             detail=f"elderly living alone: {np.median(alone):.2f} ran out", spread=ran_out),
        Line("ledger", f"{name}: small stores failed (never reopen)", None, 0.30, float(np.median(failed)), "share",
             "no count of closures found; retail sales -48.3 % y/y in April but -18.7 % for Jan-May (Shanghai "
             "Statistics Bureau via SHINE 2022-05-21); Shanghai's cafes 6,913 in Jan 2021 (Dianping via Yicai, China "
             "Daily 2021-03-30), 7,857 at end-June 2022 (Meituan), 8,530 in 2023 (SHINE 2023-06-01): the stock did not "
             "fall. ASSUMPTION ceiling 30 %", spread=failed),
        Line("ledger", f"{name}: excess non-COVID deaths / expected deaths while sealed", None, 0.13,
             float(np.median(excess)), "ratio",
             "Wuhan Jan-Mar 2020: 56 % excess all-cause, 77 % of it pneumonia (Liu J et al., BMJ 2021;372:n415) "
             "-> non-COVID excess ~13 % of expected, the ceiling; outside Wuhan lockdowns cut non-COVID deaths by "
             "4.9 % (Qi J et al., medRxiv 2020.08.28.20183699); expected = 7.18 per 1,000 a year (NBS 2021). No "
             "Shanghai 2022 count found", spread=excess),
    ]


def section_leaks(runner: Runner, scale: float, seeds: list[int]) -> list[Line]:
    name = "shanghai-2022"
    scenario = zerosim.load_scenario(name)
    compliance = scenario.resolved_behaviour().base_compliance if scenario.resolved_behaviour().enabled else 1.0
    lines = [Line("leaks", f"{name}: shipped base compliance with confinement", 0.5, 1.0, float(compliance), "share",
                  "practised home quarantine 86.4 % (Li L et al., Front Psychol 2021;12:679538); issue #14: the "
                  "fit must not need values below 0.5")]
    # Shanghai, 1-6 May 2022: 90.6 % of new positives were found in sealed areas, central quarantine or
    # sealed venues (Zhao Dandan, press conference 2022-05-07); 86.9 % "under control" on 21 March.
    size = max(2_000, round(scenario.population.size * scale))
    start = scenario.start_date
    # The window is the record +- about 0.06: a model that finds every case inside the walls (0.99) is the
    # near-perfect containment issue #14 is about, not a pass.
    for first, last, lo, hi, source in (
            (date(2022, 3, 21), date(2022, 3, 27), 0.75, 0.93,
             "86.9 % (21 Mar) and 81.4 % (27 Mar) of new infections found already under isolation or control "
             "(Shanghai Health Commission bulletins via Shanghai Securities News 2022-03-22, Jiefang Daily 2022-03-29)"),
            (date(2022, 5, 1), date(2022, 5, 6), 0.85, 0.96,
             "90.6 % found in sealed areas, central quarantine or sealed venues, 1-6 May 2022 (Zhao Dandan, press "
             "conference 2022-05-07); 95-98 % in the bulletins of 7-27 April")):
        window = slice((first - start).days, (last - start).days + 1)
        shares = []
        for seed in seeds:
            table = runner.run(name, size, seed).timeseries
            found = table["cases_detected"].iloc[window].sum()
            community = table["cases_detected_community"].iloc[window].sum()
            shares.append(float(1 - community / found) if found else float("nan"))
        lines.append(Line("leaks", f"{name}: share of cases found already under control, "
                          f"{first:%d %b}-{last:%d %b}", lo, hi, float(np.nanmedian(shares)), "share", source,
                          spread=shares))
    # Shanghai's three-zone lists of 16 May 2022 (People's Daily 2022-05-18, docs/policies.md 4.2 [S23]): 4,057
    # sealed units (~0.86 M people, 3.5 %), 16,484 controlled (~3.0 M, 12 %), 51,803 precaution (~19.44 M, 78 %):
    # the zones drawn around cases, while the whole city stayed at home. The window is the record +- a third
    # (ASSUMPTION: one day's published count, with no spread given).
    day = (date(2022, 5, 16) - start).days
    for column, share, label in (("sealed_around_cases", 0.86 / 24.87, "sealed"),
                                 ("controlled_around_cases", 3.0 / 24.87, "controlled")):
        shares = [float(runner.run(name, size, seed).timeseries[column].iloc[day]) / size for seed in seeds]
        lines.append(Line("leaks", f"{name}: share of residents in {label} zones drawn around cases, 16 May",
                          share * 2 / 3, share * 4 / 3, float(np.median(shares)), "share",
                          f"{share:.1%} of 24.87 M residents in {label} units on 16 May 2022 (People's Daily "
                          "2022-05-18, docs/policies.md 4.2 [S23]); ASSUMPTION window: the record +- a third",
                          spread=shares))
    return lines


# -------------------------------------------------------------------------------------------- output
def markdown(lines: list[Line], command: str, machine: str) -> str:
    passed = sum(line.passed for line in lines)
    out = [f"Scorecard: **{passed} of {len(lines)} lines pass**. Made by `{command}` on {machine}, "
           f"zerosim {zerosim.__version__}, {date.today().isoformat()}.", ""]
    for section in SECTIONS:
        chosen = [line for line in lines if line.section == section]
        if not chosen:
            continue
        out += [f"### {section}", "", "| quantity | target | zerosim | per seed | pass | source |",
                "|---|---|---|---|---|---|"]
        for line in chosen:
            seeds = ", ".join(_fmt(v) for v in line.spread) if line.spread else ""
            measured = _fmt(line.measured) if line.measured is not None else "not measured"
            if line.detail:
                measured += f" ({line.detail})"
            out.append(f"| {line.quantity} | {line.target()} {line.unit} | {measured} | {seeds} | "
                       f"{'pass' if line.passed else '**FAIL**'} | {line.source} |")
        out.append("")
    return "\n".join(out)


def scorecard(sections: Iterable[str], scale: float, seeds: list[int], growth_size: int,
              extra_scales: list[float], progress: Callable[[str], None] = print) -> list[Line]:
    runner = Runner(progress)
    by_size = {"growth": (section_growth, growth_size), "severity": (section_severity, growth_size),
               "testing": (section_testing, growth_size), "builtins": (section_builtins, scale),
               "ledger": (section_ledger, scale), "leaks": (section_leaks, scale),
               "scale": (section_scale, sorted({scale, *extra_scales}))}
    lines: list[Line] = []
    for section in sections:
        progress(f"section {section}")
        run_section, size = by_size[section]
        lines += run_section(runner, size, seeds)
    return lines


DOC_BEGIN = "<!-- scorecard: written by bench/validation.py --update-doc; do not edit by hand -->"
DOC_END = "<!-- end of scorecard -->"


def _write_atomic(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.1, help="Scale of the real-outbreak runs (default 1/10).")
    parser.add_argument("--also-scale", type=float, action="append", default=None,
                        help="Further scales for the scale section (default 0.01; repeatable; 1 = full size).")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--growth-size", type=int, default=500_000, help="City size for growth and severity runs.")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"Sections, comma-separated: {','.join(SECTIONS)}.")
    parser.add_argument("--quick", action="store_true", help="The small card of the test suite (1/1000, 1 seed).")
    parser.add_argument("--out", type=Path, default=Path("docs/validation"))
    parser.add_argument("--update-doc", type=Path, default=None,
                        help="Also replace the scorecard between the markers of this Markdown file "
                             "(docs/validation.md).")
    args = parser.parse_args(argv)
    if args.update_doc is not None:
        text = args.update_doc.read_text(encoding="utf-8") if args.update_doc.exists() else ""
        if DOC_BEGIN not in text or DOC_END not in text:
            parser.error(f"--update-doc: {args.update_doc} has no '{DOC_BEGIN}' ... '{DOC_END}' block; add the "
                         "two marker lines where the scorecard goes")
    if args.quick:
        args.scale, args.seeds, args.growth_size = 0.001, 1, 50_000
        args.also_scale = args.also_scale or [0.0005]
    extra = args.also_scale if args.also_scale is not None else [0.01]
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    started = time.perf_counter()
    lines = scorecard(sections, args.scale, list(range(1, args.seeds + 1)), args.growth_size, extra,
                      progress=lambda text: print(text, file=sys.stderr, flush=True))
    command = "python bench/validation.py " + " ".join(argv if argv is not None else sys.argv[1:])
    machine = f"{os.cpu_count()} cores"
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"command": command.strip(), "machine": machine, "zerosim_version": zerosim.__version__,
              "date": date.today().isoformat(), "seconds": round(time.perf_counter() - started, 1),
              "passed": int(sum(line.passed for line in lines)), "lines": [
                  {**asdict(line), "target": line.target(), "passed": line.passed} for line in lines]}
    _write_atomic(args.out / "scorecard.json", json.dumps(record, indent=2, default=float) + "\n")
    _write_atomic(args.out / "scorecard.md", markdown(lines, command.strip(), machine) + "\n")
    print(markdown(lines, command.strip(), machine))
    if args.update_doc is not None:
        text = args.update_doc.read_text(encoding="utf-8")
        head, rest = text.split(DOC_BEGIN, 1)
        tail = rest.split(DOC_END, 1)[1]
        _write_atomic(args.update_doc, f"{head}{DOC_BEGIN}\n{markdown(lines, command.strip(), machine)}\n{DOC_END}{tail}")
    print(f"{record['passed']} of {len(lines)} lines pass ({record['seconds']:.0f} s); written to {args.out}/",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
