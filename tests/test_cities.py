"""Other cities: shipped tables add up to the census, and each city builds with its own districts, ages and households."""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np
import pytest
from pydantic import ValidationError

from zerosim.errors import ScenarioError
from zerosim.io.scenario import validate_mapping
from zerosim.population.config import PopulationConfig
from zerosim.population.synthesis import (
    BASE_CITY,
    available_cities,
    build_population,
    city_profile,
    city_tables,
    household_size_values,
    rake_age_shares,
    tilt_household_shares,
)

SHIPPED = ("beijing", "chongqing", "lhasa", "shanghai", "shijiazhuang", "wuhan")
OTHER_CITIES = tuple(city for city in SHIPPED if city != BASE_CITY)
N = 20_000
SEED = 11


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("zerosim.population").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def test_available_cities_are_the_shipped_tables():
    assert available_cities() == SHIPPED
    assert sorted(row["city"] for row in _rows("cities.csv")) == list(SHIPPED)


@pytest.mark.parametrize("city", SHIPPED)
def test_district_table_adds_up_to_the_census_total(city):
    rows = _rows(f"{city}_districts.csv")
    assert [key for key in rows[0]] == ["district_en", "district_zh", "population", "subdistrict_count", "source"]
    names = [row["district_en"] for row in rows]
    assert len(set(names)) == len(names) and all(name.strip() for name in names)
    assert all(row["source"].strip() for row in rows)
    assert all(int(row["subdistrict_count"]) >= 1 for row in rows)
    assert sum(int(row["population"]) for row in rows) == city_profile(city).population_2020


@pytest.mark.parametrize(
    ("city", "districts", "subdistricts"),
    [("beijing", 16, 342), ("chongqing", 38, 1031), ("lhasa", 8, 65), ("shanghai", 16, 215),
     ("shijiazhuang", 22, 277), ("wuhan", 15, 163)],
)
def test_district_and_subdistrict_counts(city, districts, subdistricts):
    tables = city_tables(city)
    assert len(tables.district_names) == districts
    assert int(tables.district_subdistricts.sum()) == subdistricts


def test_base_city_tables_are_the_shipped_csv():
    tables = city_tables(BASE_CITY)
    ages = np.array([float(row["share"]) for row in _rows("age_pyramid.csv")])
    households = np.array([float(row["share"]) for row in _rows("household_size.csv")])
    assert np.array_equal(tables.age_share, ages / ages.sum())
    assert np.array_equal(tables.household_share, households / households.sum())


@pytest.mark.parametrize("city", OTHER_CITIES)
def test_age_table_matches_census_shares(city):
    tables, profile = city_tables(city), city_profile(city)
    share = tables.age_share
    assert share.sum() == pytest.approx(1.0, abs=1e-12)
    if profile.share_age_0_14 is None:
        # ASSUMPTION documented in SOURCES.md: no census shares found -> Shanghai's pyramid
        assert np.allclose(share, city_tables(BASE_CITY).age_share, rtol=0, atol=1e-15)
        return
    assert share[tables.age_high <= 14].sum() == pytest.approx(profile.share_age_0_14, abs=1e-12)
    assert share[tables.age_low >= 60].sum() == pytest.approx(profile.share_age_60_plus, abs=1e-12)
    if profile.share_age_65_plus is not None:
        assert share[tables.age_low >= 65].sum() == pytest.approx(profile.share_age_65_plus, abs=1e-12)
    # the shape inside a broad group is the base city's
    base = city_tables(BASE_CITY).age_share
    inside = (tables.age_low >= 15) & (tables.age_high <= 59)
    assert np.allclose(share[inside] / share[inside].sum(), base[inside] / base[inside].sum(), rtol=1e-12)


@pytest.mark.parametrize("city", SHIPPED)
def test_household_table_has_census_mean(city):
    tables, profile = city_tables(city), city_profile(city)
    mean = float((tables.household_share * household_size_values(tables.household_size)).sum())
    assert mean == pytest.approx(profile.family_household_mean_size, abs=1e-3 if city == BASE_CITY else 1e-9)


def test_tilt_and_rake_are_exact_and_keep_shape():
    sizes = np.arange(1, 9)
    base = np.full(8, 1 / 8)
    tilted = tilt_household_shares(sizes, base, 3.0)
    assert float((tilted * household_size_values(sizes)).sum()) == pytest.approx(3.0, abs=1e-9)
    ratios = tilted[1:] / tilted[:-1]
    assert np.allclose(ratios[:-1], ratios[0])  # geometric: exp(theta) between neighbours
    low, high = np.array([0, 15, 60, 65]), np.array([14, 59, 64, 100])
    profile = city_profile("beijing")
    raked = rake_age_shares(low, high, np.full(4, 0.25), profile)
    assert raked == pytest.approx([profile.share_age_0_14, 1 - profile.share_age_0_14 - profile.share_age_60_plus,
                                   profile.share_age_60_plus - profile.share_age_65_plus, profile.share_age_65_plus])
    with pytest.raises(ScenarioError, match="crosses"):
        rake_age_shares(np.array([0, 10, 65]), np.array([9, 64, 100]), np.full(3, 1 / 3), profile)


@pytest.mark.statistical
@pytest.mark.parametrize("city", OTHER_CITIES)
def test_city_builds_with_its_districts_ages_and_households(city):
    state = build_population(PopulationConfig(size=N, city=city), SEED)
    tables, profile = city_tables(city), city_profile(city)
    assert state.size == N
    assert tuple(state.district_names) == tables.district_names
    # district shares: scaled from the table (largest remainder), so within one person of exact
    people = np.bincount(state.district_id.astype(np.int64), minlength=len(tables.district_names))
    expected = tables.district_population / tables.district_population.sum()
    assert np.abs(people / N - expected).max() <= 1 / N
    # broad age shares within 4 binomial standard errors of the census (or of Shanghai's, the fallback)
    young = profile.share_age_0_14 if profile.share_age_0_14 is not None else city_tables(BASE_CITY).age_share[:3].sum()
    old = profile.share_age_60_plus
    if old is None:
        old = city_tables(BASE_CITY).age_share[city_tables(BASE_CITY).age_low >= 60].sum()
    for observed, target in (((state.age <= 14).mean(), young), ((state.age >= 60).mean(), old)):
        assert abs(observed - target) < 4 * np.sqrt(target * (1 - target) / N), (city, observed, target)
    # mean family-household size near the census (sd of the mean about 0.014 at this size)
    mean_household = N / state.groups.household_count
    assert abs(mean_household - profile.family_household_mean_size) < 0.06, (city, mean_household)


def test_unknown_city_is_rejected_with_the_field_and_the_choices():
    with pytest.raises(ValidationError, match=r"unknown city 'foo'; available: beijing, chongqing"):
        PopulationConfig(city="foo")
    with pytest.raises(ScenarioError, match=r"^population\.city: unknown city 'foo'; available: .*shanghai"):
        validate_mapping({"population": {"city": "foo"}})
    with pytest.raises(ScenarioError, match=r"^population\.city: unknown city"):
        city_tables("atlantis")
