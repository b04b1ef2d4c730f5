"""Behaviour layer: validated parameters of compliance and fatigue.

Layer ``behaviour`` -- imports pydantic only. The shipped defaults are in the ledger's
``defaults.yaml`` (beside the costs they respond to, each with its source) and are read by
:func:`zerosim.ledger.config.default_behaviour`; docs/ledger.md (behaviour) explains them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]


class BehaviourConfig(BaseModel):
    """Compliance and fatigue: how people respond to the cost of containment (the ``behaviour`` section)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    enabled: bool = Field(False, description="Model compliance and fatigue (off: everyone always complies).")
    base_compliance: Fraction = Field(description="Share of confinement days a person complies at the start.")
    fatigue_per_confined_day: NonNegative = Field(
        description="Relative drop in compliance per day already confined (exponential decay rate)."
    )
    food_shortfall_penalty: Fraction = Field(
        description="Absolute drop in compliance while the household has no food."
    )
    local_case_response: NonNegative = Field(
        description="Rise in compliance per log10(1 + community cases per 100,000 in the district over 7 days)."
    )
    minimum_compliance: Fraction = Field(description="Compliance never falls below this.")
    test_skip_follows_compliance: bool = Field(
        True, description="Non-compliant people also skip mass-testing rounds."
    )
    pressure_confined_days: int = Field(
        14, ge=1, description="Resistance-pressure index: residents confined longer than this count."
    )
