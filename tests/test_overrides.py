"""``zerosim.apply_overrides``: dotted overrides applied to a scenario or a raw mapping, validated, the input unchanged."""

from __future__ import annotations

import pytest

import zerosim
from zerosim.io.scenario import apply_dotted, apply_overrides


def test_overrides_give_a_new_validated_scenario_and_leave_the_input_alone():
    base = zerosim.load_scenario("demo")
    changed = zerosim.apply_overrides(base, {"policy": "dynamic-zero-2022", "seeding.0.day": 3, "seed": 11})
    assert isinstance(changed, zerosim.Scenario)
    assert (changed.policy, changed.seeding[0].day, changed.seed) == ("dynamic-zero-2022", 3, 11)
    assert base.policy != "dynamic-zero-2022" and base.seed != 11
    # the same as loading with the overrides, which is what --set does
    assert changed == zerosim.load_scenario("demo", {"policy": "dynamic-zero-2022", "seeding.0.day": 3, "seed": 11})


def test_a_raw_mapping_is_copied_not_changed():
    data = zerosim.load_scenario("demo").model_dump(mode="json")
    before = repr(data)
    scenario = apply_overrides(data, {"transmission.r0": 2.5})
    assert scenario.transmission.r0 == 2.5
    assert repr(data) == before
    assert apply_dotted(data, {"transmission.r0": 2.5}) is data and data["transmission"]["r0"] == 2.5


@pytest.mark.parametrize(("overrides", "field"), [
    ({"seeding.9.day": 1}, "seeding.9"),              # past the end of a list
    ({"seed.value": 1}, "seed.value"),                # into a plain value
    ({"duration_days": 0}, "duration_days"),          # fails validation
    ({"transmission.no_such_field": 1}, "transmission.no_such_field"),
])
def test_a_bad_override_is_one_line_naming_the_field(overrides, field):
    with pytest.raises(zerosim.ScenarioError) as caught:
        apply_overrides(zerosim.load_scenario("demo"), overrides)
    message = str(caught.value)
    assert field in message and "\n" not in message


def test_a_region_validates_with_its_own_model():
    from zerosim.region.config import RegionScenario, load_region, validate_region, region_builtin_names

    region = load_region(region_builtin_names()[0])
    changed = apply_overrides(region, {"seed": 5}, validate=validate_region)
    assert isinstance(changed, RegionScenario) and changed.seed == 5 and region.seed != 5


def test_a_containment_override_holds_in_every_timeline_period():
    """--set containment.X on a scenario with a timeline sets X in every period, not only until the
    timeline's first step (each step brings its own containment); a step with fewer campaigns keeps its own."""
    overrides = {"containment.isolation.beds_per_100k": 300, "containment.zoning.cases_at_home_restart_clock": True}
    for scenario in (zerosim.load_scenario("shanghai-2022", overrides),
                     apply_overrides(zerosim.load_scenario("shanghai-2022"), overrides)):
        periods = scenario.resolved_periods()
        assert len(periods) > 3
        assert all(config.isolation.beds_per_100k == 300 for _, config in periods)
        assert all(config.zoning.cases_at_home_restart_clock for _, config in periods)
    plain = zerosim.load_scenario("shanghai-2022").resolved_periods()
    assert {config.isolation.beds_per_100k for _, config in plain} == {100, 700}  # the file's own values
    # a campaign index only where the step has that campaign
    third = zerosim.load_scenario("shanghai-2022", {"containment.testing.campaigns.2.coverage_fraction": 0.5})
    for (_, config), (_, before) in zip(third.resolved_periods(), plain):
        if len(before.testing.campaigns) > 2:
            assert config.testing.campaigns[2].coverage_fraction == 0.5
        else:
            assert config.testing.campaigns == before.testing.campaigns


def test_a_bad_containment_override_on_a_timeline_names_the_key_given():
    """The value reaches every timeline step too, but the error names the key the user set, not a step's copy."""
    with pytest.raises(zerosim.ScenarioError) as caught:
        zerosim.load_scenario("shanghai-2022", {"containment.testing.specificity": 2})
    assert str(caught.value).startswith("containment.testing.specificity: must be <= 1")


def test_a_shorter_run_drops_the_timeline_steps_after_its_end(tmp_path):
    """--days shorter than a built-in's timeline runs its first days (the later steps could not act); a
    scenario file whose own step lies past its own end is still an error that says how to fix it."""
    full = zerosim.load_scenario("shanghai-2022")
    short = zerosim.load_scenario("shanghai-2022", {"duration_days": 20})
    assert short.duration_days == 20
    assert [step.day for step in short.timeline] == [step.day for step in full.timeline if step.day < 20]
    assert 0 < len(short.timeline) < len(full.timeline)
    assert apply_overrides(full, {"duration_days": 20}).timeline == short.timeline
    path = tmp_path / "late.yaml"
    path.write_text("duration_days: 10\ntimeline:\n  - {day: 12, policy: none}\n")
    with pytest.raises(zerosim.ScenarioError, match=r"timeline\.0\.day is 12 but the run lasts 10 days; run at least 13"):
        zerosim.load_scenario(path)
