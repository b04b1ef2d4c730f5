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
