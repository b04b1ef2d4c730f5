"""Engine layer: the registry from a scenario's component ``kind`` to its class.

Built-in classes are named by dotted path and imported only when a scenario asks for them, so the
engine never imports ``policy``, ``behaviour`` or ``ledger`` itself. Components from other
installed packages are found through the entry-point group :data:`ENTRY_POINT_GROUP`: a package
declares, in its ``pyproject.toml``::

    [project.entry-points."zerosim.components"]
    mask_mandate = "mask_mandate:MaskMandate"

and a scenario switches it on with ``components: {mask_mandate: {...}}``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module
from importlib.metadata import entry_points

#: kind -> "module:Class" of the components that ship with zerosim.
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
#: The entry-point group installed packages use to offer components.
ENTRY_POINT_GROUP = "zerosim.components"


@lru_cache(maxsize=1)
def extension_kinds() -> dict[str, str]:
    """kind -> "module:Class" of the components installed packages offer (built-in names excluded)."""
    return {point.name: point.value for point in entry_points(group=ENTRY_POINT_GROUP)
            if point.name not in COMPONENTS}


def component_class(kind: str) -> type:
    """The class registered for ``kind``: built-in, or offered by an installed package (KeyError if none)."""
    target = COMPONENTS.get(kind) or extension_kinds()[kind]
    module, _, name = target.partition(":")
    cls = getattr(import_module(module), name)
    if getattr(cls, "kind", kind) != kind:
        raise TypeError(f"{target} declares kind {cls.kind!r} but is registered as {kind!r}")
    return cls
