"""Engine layer: the explicit registry from a config ``kind`` to its component class.

Classes are named by dotted path and imported only when a scenario asks for them, so the engine
never imports ``policy``, ``behaviour`` or ``ledger`` itself.
"""

from __future__ import annotations

from importlib import import_module

#: kind -> "module:Class". Later layers add their rows here.
COMPONENTS: dict[str, str] = {
    "transmission": "zerosim.transmission.components:Transmission",
    "disease": "zerosim.disease.components:NaturalHistory",
    "testing": "zerosim.policy.testing:Testing",
    "isolation": "zerosim.policy.isolation:Isolation",
    "tracing": "zerosim.policy.tracing:Tracing",
    "zoning": "zerosim.policy.zoning:Zoning",
    "closures": "zerosim.policy.closures:Closures",
    "health_code": "zerosim.policy.healthcode:HealthCodes",
    "confinement": "zerosim.policy.confinement:Confinement",
    "behaviour": "zerosim.behaviour.components:Compliance",
    "ledger": "zerosim.ledger.components:Ledger",
}


def component_class(kind: str) -> type:
    """The class registered for ``kind`` (KeyError if none)."""
    module, _, name = COMPONENTS[kind].partition(":")
    return getattr(import_module(module), name)
