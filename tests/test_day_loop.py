"""The one daily loop, ``Simulation.run``: split runs, hooks, early stop and re-seeding."""

from __future__ import annotations

import numpy as np

import zerosim

OVERRIDES = {"population.size": 3000, "duration_days": 14, "policy": "dynamic-zero-2022", "seeding.0.count": 20}


def _simulation():
    return zerosim.build(zerosim.load_scenario("demo", OVERRIDES))


def _series(simulation) -> dict[str, np.ndarray]:
    return {name: values.copy() for name, values in simulation.recorder.scalars.items()}


def test_a_run_split_at_any_day_equals_one_run_and_hooks_run_in_order():
    whole = _simulation()
    calls: list[tuple[str, int]] = []
    whole.run(lambda day: calls.append(("on_day", day)),
              after_day=[lambda day: calls.append(("first", day)), lambda day: calls.append(("second", day))])
    assert calls[:3] == [("on_day", 0), ("first", 0), ("second", 0)] and len(calls) == 3 * whole.days

    split = _simulation()
    split.run(stop_day=5)
    assert split.recorder.days_recorded == 5
    split.run(start_day=5)
    assert split.recorder.days_recorded == whole.days
    expected, got = _series(whole), _series(split)
    assert expected.keys() == got.keys()
    assert all(np.array_equal(expected[name], got[name]) for name in expected)
    assert expected["new_infections"].sum() > 0  # the comparison compared something


def test_reseed_keeps_the_past_and_redraws_the_future():
    same = _simulation()
    same.run()
    branched = _simulation()
    branched.run(stop_day=6, after_day=[lambda day: branched.reseed(12345) if day == 3 else None])
    branched.run(start_day=6)
    a, b = _series(same), _series(branched)
    assert all(np.array_equal(a[name][:4], b[name][:4]) for name in a)  # days 0..3 ran before the re-seed
    assert any(not np.array_equal(a[name][4:], b[name][4:]) for name in a)
    assert branched.seed == same.seed


def test_find_and_components_see_inside_a_policy_timeline():
    from zerosim.engine.schedule import Scheduled

    simulation = zerosim.build(zerosim.load_scenario("wuhan-2020", {"population.size": 3000}))
    scheduled = [component for component, _ in simulation.plan if isinstance(component, Scheduled)]
    assert scheduled, "wuhan-2020 has a timeline: some component must be scheduled"
    periods = [part for _, part in scheduled[0].periods]
    assert simulation.components(scheduled[0].name) == periods
    assert simulation.find(scheduled[0].name) is periods[0]
    assert simulation.find("transmission").name == "transmission"
    assert simulation.find("no-such-component") is None
    assert [c.name for c in simulation.components()][0] == simulation.plan[0][0].name


def test_use_contact_rates_replaces_the_rates_set_up_from_the_state():
    simulation = _simulation()
    simulation.setup()
    transmission = simulation.find("transmission")
    before = _simulation()
    before.run(stop_day=8)
    transmission.use_contact_rates(transmission._rate * 3)
    simulation.run(stop_day=8)
    assert simulation.recorder.scalars["new_infections"][:8].sum() > before.recorder.scalars["new_infections"][:8].sum()
