"""The built-in real scenarios and the levers their timelines use: dated steps, ordered district and
city lockdowns released by the rules, closures by order, and district names checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zerosim
from zerosim.engine.schedule import Scheduled
from zerosim.errors import ScenarioError
from zerosim.io.scenario import builtin_names
from zerosim.policy.closures import CITYWIDE, Closures
from zerosim.policy.config import ClosuresConfig
from zerosim.population.state import Sector

REAL = ["shanghai-2022", "shijiazhuang-2021", "wuhan-2020", "chongqing-2022"]


def test_real_scenarios_are_built_in():
    assert set(REAL) <= set(builtin_names())


def _part(containment, kind: str):
    """The configuration a containment component of ``kind`` is built with (Confinement takes it all)."""
    return containment if kind == "confinement" else getattr(containment, kind)


@pytest.mark.parametrize("name", REAL)
def test_real_scenario_runs_at_reduced_scale(name, tmp_path, monkeypatch):
    # Record which configuration each scheduled policy component actually ran with, day by day.
    ran: dict[str, dict[int, object]] = {}
    scheduled_step = Scheduled.step

    def recording_step(self, state, day, rng):
        ran.setdefault(self.name, {})[day] = self.active(day).config
        scheduled_step(self, state, day, rng)

    monkeypatch.setattr(Scheduled, "step", recording_step)
    scenario = zerosim.load_scenario(name, {"population.size": 20_000, "outputs.figures": False})
    results = zerosim.run(scenario, out=tmp_path / name)
    summary = json.loads((tmp_path / name / "summary.json").read_text())
    assert summary["scenario"] == name and summary["population"] == 20_000
    for file in ("timeseries.parquet", "by_district.parquet", "events.parquet", "ledger.parquet"):
        assert (tmp_path / name / file).exists()
    assert results.timeseries["day"].iloc[-1] == scenario.duration_days - 1
    # Every dated step switched the policy on its day: from start_date + (date - start_date) days on,
    # each scheduled component ran with that step's configuration, and the day before with the one before.
    periods = scenario.resolved_periods()
    assert scenario.timeline and len(periods) == len(scenario.timeline) + 1 and ran
    for k, step in enumerate(scenario.timeline, start=1):
        day = (step.date - scenario.start_date).days
        assert 0 < day < scenario.duration_days and periods[k][0] == day
        switched = [kind for kind, by_day in ran.items() if by_day[day] != by_day[day - 1]]
        assert switched, f"{name}: timeline step {k - 1} ({step.date}) changed no policy component on day {day}"
        for kind, by_day in ran.items():
            assert by_day[day] == _part(periods[k][1], kind), f"{name}: {kind} on {step.date} (day {day})"
            assert by_day[day - 1] == _part(periods[k - 1][1], kind), f"{name}: {kind} the day before {step.date}"
    in_force = np.searchsorted([start for start, _ in periods], np.arange(scenario.duration_days), side="right") - 1
    for kind, by_day in ran.items():
        assert sorted(by_day) == list(range(scenario.duration_days))
        assert all(by_day[day] == _part(periods[k][1], kind) for day, k in enumerate(in_force)), kind


def test_timeline_date_needs_start_date_and_must_follow_it():
    step = {"date": "2022-03-28", "policy": "dynamic-zero-2022"}
    with pytest.raises(ScenarioError, match=r"timeline\.0\.date needs the scenario's start_date"):
        zerosim.load_scenario("demo", {"start_date": None, "timeline": [step]})
    with pytest.raises(ScenarioError, match=r"timeline\.0\.date .* is not after start_date"):
        zerosim.load_scenario("demo", {"start_date": "2022-04-01", "timeline": [step]})
    assert zerosim.load_scenario("demo", {"timeline": [step]}).timeline[0].day == 27


@pytest.mark.parametrize("key, value, field", [
    ("seeding.0.district", "Atlantis", "seeding.0.district"),
    ("containment", {"zoning.districts_sealed": ["Atlantis"]}, "containment.zoning.districts_sealed"),
])
def test_unknown_district_names_the_field(key, value, field):
    with pytest.raises(ScenarioError, match=rf"{field}: unknown district 'Atlantis'; shanghai has Pudong"):
        zerosim.load_scenario("demo", {key: value, "policy": "dynamic-zero-2022"})


def _zone_events(overrides):
    base = {"population.size": 20_000, "duration_days": 40, "outputs.figures": False, "policy": "dynamic-zero-2022",
            "containment": {"zoning.district_sealed_after_cases_per_100k": None,
                            "zoning.city_sealed_after_cases_per_100k": None}}
    results = zerosim.run(zerosim.load_scenario("demo", {**base, **overrides}))
    events = results.events
    return results, events[events["scope"].isin(["district", "city"])]


def test_ordered_district_lockdown_lasts_while_ordered_then_rules_release_it():
    order = {"zoning.districts_sealed": ["Xuhui"], "zoning.district_sealed_after_cases_per_100k": None,
             "zoning.city_sealed_after_cases_per_100k": None, "zoning.city_release_social_zero_days": 3}
    timeline = [{"day": 5, "policy": "dynamic-zero-2022", "containment": order},
                {"day": 15, "policy": "dynamic-zero-2022", "containment": {**order, "zoning.districts_sealed": []}}]
    _, events = _zone_events({"seeding": [{"day": 0, "count": 5, "district": "Chongming"}], "timeline": timeline})
    xuhui = events[events["zone_name"] == "Xuhui"]
    assert list(xuhui["event"]) == ["sealed", "released"]
    sealed_day, released_day = xuhui["day"].tolist()
    assert sealed_day == 5
    assert released_day >= 15  # not released while ordered, although no case was ever there


def test_city_order_counts_the_closure_from_its_first_day():
    zoning = {"zoning.district_sealed_after_cases_per_100k": None, "zoning.city_sealed_after_cases_per_100k": None,
              "zoning.city_min_sealed_days": 20, "zoning.city_release_social_zero_days": 2}
    timeline = [{"day": 3, "policy": "dynamic-zero-2022", "containment": {**zoning, "zoning.city_ordered_level": "precaution"}},
                {"day": 6, "policy": "dynamic-zero-2022", "containment": {**zoning, "zoning.city_ordered_level": "sealed"}},
                {"day": 8, "policy": "dynamic-zero-2022", "containment": zoning}]
    results, events = _zone_events({"seeding": [{"day": 0, "count": 1}], "timeline": timeline})
    city = events[events["scope"] == "city"]
    assert city["event"].tolist()[:2] == ["precaution", "sealed"]
    assert city["day"].tolist()[:2] == [3, 6]
    released = city[city["event"] == "released"]["day"].tolist()
    assert released and released[0] >= 3 + 20  # the minimum counts from day 3, not from day 6
    sealed = results.timeseries.set_index("day")["city_sealed"]
    assert sealed.loc[6:released[0] - 1].eq(1).all() and sealed.loc[:5].eq(0).all()


def test_closures_by_order(make_state):
    state = make_state(5000, 3)
    config = ClosuresConfig(enabled=True, schools_closed=True, transport_closed=True, sectors_closed=["catering"],
                            transport_closed_citywide_factor=0.3)
    component = Closures(config)
    component.setup(state, np.random.default_rng(0))
    for name, array in {"district_level": np.zeros(state.groups.district_count, dtype=np.int8),
                        "city_zone": np.zeros(4, dtype=np.int32)}.items():
        state.unit_arrays[name] = array
    component.step(state, 0, np.random.default_rng(0))
    g = state.groups
    catering = g.workplace_sector == Sector.CATERING
    assert catering.any() and (state.workplace_is_open[catering] == 0).all()
    assert (state.workplace_is_open[g.workplace_sector == Sector.OFFICE] == 1).all()
    assert (state.school_is_open == 0).all()
    assert state.layer_contact_scale[CITYWIDE] == pytest.approx(0.3)


def test_seeding_per_100k_scales_with_the_population():
    for size in (20_000, 40_000):
        scenario = zerosim.load_scenario("demo", {"population.size": size, "duration_days": 1, "outputs.figures": False,
                                                  "seeding": [{"day": 0, "per_100k": 50, "district": "pudong"}]})
        results = zerosim.run(scenario)
        assert results.timeseries["new_infections"].iloc[0] == round(50 * size / 1e5)


def test_shanghai_lockdown_order_is_dropped_so_the_rule_decides_the_release():
    scenario = zerosim.load_scenario("shanghai-2022")
    orders = {day: containment.zoning.city_ordered_level for day, containment in scenario.resolved_periods()}
    assert orders[31] == "sealed"  # 1 April: Puxi, then the whole city
    assert all(level == "none" for day, level in orders.items() if day >= 39)  # from 9 April: by the rule
