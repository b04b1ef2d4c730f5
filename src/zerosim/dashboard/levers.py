"""Dashboard layer: the policy levers of the dashboard, turned into scenario overrides and validated.

Sits above the API, beside ``cli/`` (imports ``zerosim.io`` and ``zerosim.errors`` only); imports no
web library, so it is usable and testable without Dash.

A lever left at its preset value adds no override, so an untouched page runs exactly the chosen
built-in scenario under the chosen preset (at the chosen scale). Every value goes through
:func:`zerosim.load_scenario`, so it is checked by the same pydantic models as a scenario file
or ``zerosim run --set``; a bad value comes back as the one-line :class:`~zerosim.ScenarioError`
message.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, fields, replace
from typing import Any

from zerosim.errors import ScenarioError
from zerosim.io.scenario import Scenario, builtin_names, load_scenario

DEFAULT_POPULATION = 20_000
MAX_POPULATION = 500_000   # the dashboard runs at reduced scale; bigger cities: `zerosim run`
DEFAULT_DAYS = 60


class _Preset:
    """Marker for a lever left at the preset's value."""

    def __repr__(self) -> str:
        return "PRESET"


PRESET: Any = _Preset()


@dataclass(frozen=True)
class Levers:
    """What the page lets a user set. ``PRESET`` (the default) keeps the preset's value; ``None`` is a
    blank field, which the models accept only where a field says so.

    Attributes
    ----------
    scenario : built-in scenario name (``zerosim.builtin_names()``)
    policy : containment preset name
    population_size : people simulated (reduced scale, at most ``MAX_POPULATION``)
    duration_days : days simulated
    pool_size : samples per tube, set on every testing campaign
    interval_days : days between routine citywide rounds (city campaigns without a round limit;
        if all city campaigns are limited, all of them)
    sealed_release_days, controlled_release_days : zoning step-down delays
    city_sealed_after_cases : community cases that seal the whole city; ``None``: never
    rooms_per_100k : quarantine rooms per 100,000; ``None``: unlimited
    deliveries_per_day_per_100k : households resupplied per day per 100,000 (ledger food)
    """

    scenario: str = "demo"
    policy: str = "none"
    population_size: Any = DEFAULT_POPULATION
    duration_days: Any = DEFAULT_DAYS
    pool_size: Any = PRESET
    interval_days: Any = PRESET
    sealed_release_days: Any = PRESET
    controlled_release_days: Any = PRESET
    city_sealed_after_cases: Any = PRESET
    rooms_per_100k: Any = PRESET
    deliveries_per_day_per_100k: Any = PRESET

    @classmethod
    def from_mapping(cls, values: dict[str, Any]) -> Levers:
        """Levers from a mapping of field name -> value; unknown names are ignored."""
        names = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in names})


NUMBER_LEVERS = ("population_size", "duration_days", "pool_size", "interval_days", "sealed_release_days",
                 "controlled_release_days", "city_sealed_after_cases", "rooms_per_100k", "deliveries_per_day_per_100k")
_NUMBER_TEXT = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")
FIELD_OF_LEVER = {"population_size": "population.size", "duration_days": "duration_days"}


def _as_number(name: str, value: Any) -> Any:
    """A lever's value as the number it means: ``"600000"`` is 600000 (then capped and validated like a
    number); a boolean, a text that is not a number, or inf/nan is refused in one line."""
    if value is PRESET or value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ScenarioError(f"{FIELD_OF_LEVER.get(name, name)}: got {str(value)[:40]!r}; give a number")
    if isinstance(value, str):
        if not _NUMBER_TEXT.match(value):
            raise ScenarioError(f"{FIELD_OF_LEVER.get(name, name)}: got {value[:40]!r}; give a number")
        number = float(value)
        value = int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    if isinstance(value, float) and not math.isfinite(value):
        raise ScenarioError(f"{FIELD_OF_LEVER.get(name, name)}: must be a finite number, got {value}; give a number")
    return value


def normalise(levers: "Levers") -> "Levers":
    """The levers with every numeric value as a number (see :func:`_as_number`)."""
    return replace(levers, **{name: _as_number(name, getattr(levers, name)) for name in NUMBER_LEVERS})


POLICY_LEVERS = (
    "pool_size", "interval_days", "sealed_release_days", "controlled_release_days",
    "city_sealed_after_cases", "rooms_per_100k", "deliveries_per_day_per_100k",
)


def _routine_city_campaigns(campaigns) -> list[int]:
    """Indices of the campaigns the interval lever moves (see :class:`Levers`)."""
    city = [index for index, campaign in enumerate(campaigns) if campaign.zone == "city"]
    routine = [index for index in city if campaigns[index].rounds is None]
    return routine or city


def _base(levers: Levers) -> Scenario:
    """The built-in scenario under the chosen preset (no lever applied); built-ins only, no files."""
    if levers.scenario not in builtin_names():
        raise ScenarioError(f"scenario: got {levers.scenario!r}; choose one of {', '.join(builtin_names())}")
    return load_scenario(levers.scenario, {"policy": levers.policy})


def preset_values(scenario: str, policy: str) -> dict[str, Any]:
    """The value each policy lever has in ``scenario`` under preset ``policy`` (None where absent).

    Raises
    ------
    ScenarioError
        If the scenario or the preset does not exist.
    """
    base = _base(Levers(scenario=scenario, policy=policy))
    containment = base.resolved_containment()
    campaigns = containment.testing.campaigns
    moved = _routine_city_campaigns(campaigns)
    return {
        "pool_size": campaigns[0].pool_size if campaigns else None,
        "interval_days": campaigns[moved[-1]].interval_days if moved else None,
        "sealed_release_days": containment.zoning.sealed_release_days,
        "controlled_release_days": containment.zoning.controlled_release_days,
        "city_sealed_after_cases": containment.zoning.city_sealed_after_cases,
        "rooms_per_100k": containment.tracing.rooms_per_100k,
        "deliveries_per_day_per_100k": base.resolved_ledger().food.deliveries_per_day_per_100k,
    }


def build_overrides(levers: Levers) -> tuple[dict[str, Any], list[str]]:
    """Dotted overrides for :func:`zerosim.load_scenario`, and notes on levers that have no effect.

    Only levers that differ from the preset's value become overrides.

    Raises
    ------
    ScenarioError
        If the scenario or the preset does not exist, or the population is above ``MAX_POPULATION``.
    """
    if not isinstance(levers.scenario, str) or not isinstance(levers.policy, str):
        raise ScenarioError("scenario, policy: give the name of a built-in scenario and of a preset")
    levers = normalise(levers)
    if isinstance(levers.population_size, (int, float)) and levers.population_size > MAX_POPULATION:
        raise ScenarioError(
            f"population.size: the dashboard runs at most {MAX_POPULATION:,} people, got {levers.population_size:,}; "
            "use `zerosim run` for a bigger city"
        )
    base = _base(levers)
    containment = base.resolved_containment()
    preset = preset_values(levers.scenario, levers.policy)
    overrides: dict[str, Any] = {
        "policy": levers.policy,
        "population.size": levers.population_size,
        "duration_days": levers.duration_days,
    }
    notes: list[str] = []
    changed = {name for name in POLICY_LEVERS
               if getattr(levers, name) is not PRESET and getattr(levers, name) != preset[name]}
    campaigns = containment.testing.campaigns
    if "pool_size" in changed:
        if not campaigns:
            notes.append("pooling size: this preset has no testing campaigns; it has no effect")
        for index in range(len(campaigns)):
            overrides[f"containment.testing.campaigns.{index}.pool_size"] = levers.pool_size
    if "interval_days" in changed:
        moved = _routine_city_campaigns(campaigns)
        if not moved:
            notes.append("testing interval: this preset has no citywide testing; it has no effect")
        for index in moved:
            overrides[f"containment.testing.campaigns.{index}.interval_days"] = levers.interval_days
    for name in ("sealed_release_days", "controlled_release_days", "city_sealed_after_cases"):
        if name in changed:
            overrides[f"containment.zoning.{name}"] = getattr(levers, name)
            if not containment.zoning.enabled:
                notes.append(f"{name.replace('_', ' ')}: zoning is off in this preset; it has no effect")
    if "rooms_per_100k" in changed:
        overrides["containment.tracing.rooms_per_100k"] = levers.rooms_per_100k
        if not containment.tracing.enabled:
            notes.append("quarantine rooms: tracing is off in this preset; it has no effect")
    if "deliveries_per_day_per_100k" in changed:
        overrides["ledger.food.deliveries_per_day_per_100k"] = levers.deliveries_per_day_per_100k
    return overrides, notes


def validate_levers(levers: Levers) -> tuple[Scenario | None, dict[str, Any], list[str], str | None]:
    """Validate the levers with the scenario models.

    Returns
    -------
    scenario : the validated Scenario, or None if a value is bad
    overrides : the dotted overrides built from the levers (empty if they could not be built)
    notes : levers that have no effect under this preset
    error : None, or the one-line ScenarioError message naming the field and the fix
    """
    try:
        overrides, notes = build_overrides(levers)
        scenario = load_scenario(levers.scenario, overrides)
    except ScenarioError as error:
        return None, {}, [], str(error)
    return scenario, overrides, notes, None
