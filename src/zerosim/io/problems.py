"""IO layer: every problem of a scenario file at once (``zerosim validate``), and the nearest valid
name for a misspelt field ("did you mean `transmission`?").

``io.scenario`` stops at the first problem (a run needs only one reason to refuse); ``validate`` is
where a user fixes a file, so it lists them all, one line each, in the same words
(:func:`zerosim.io.scenario.describe_validation_error` applied to each). Imports ``io.scenario``
lazily (it imports this module's :func:`spelling_hint`).
"""

from __future__ import annotations

import copy
import difflib
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from zerosim.errors import ScenarioError


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``, ``Annotated[X, ...]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


#: The models whose validation errors reach :func:`zerosim.io.scenario.describe_validation_error`, by the
#: name pydantic gives as the error's ``title`` (module, class); an error of another model gets no hint.
ROOTS = {
    "Scenario": ("zerosim.io.scenario", "Scenario"),
    "RegionScenario": ("zerosim.region.config", "RegionScenario"),
    "ContainmentConfig": ("zerosim.policy.config", "ContainmentConfig"),
    "LedgerConfig": ("zerosim.ledger.config", "LedgerConfig"),
    "BehaviourConfig": ("zerosim.ledger.config", "BehaviourConfig"),
}


def root_model(title: str | None) -> type[BaseModel] | None:
    """The model named ``title`` in :data:`ROOTS` (``Scenario`` when ``title`` is None), else None."""
    import importlib

    module, name = ROOTS.get(title or "Scenario", (None, None))
    if module is None:
        return None
    model = getattr(importlib.import_module(module), name, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def field_names(location: tuple, root: type[BaseModel] | None = None) -> list[str]:
    """The valid field names where ``location`` (a pydantic error's ``loc``) ends (empty when unknown)."""
    if root is None:
        root = root_model(None)
    model: type[BaseModel] = root
    for part in location[:-1]:
        if isinstance(part, int):  # an item of a list
            continue
        field = model.model_fields.get(str(part))
        inner = _model_in(field.annotation) if field is not None else None
        if inner is None:
            return []
        model = inner
    return [name for name in model.model_fields if not name.startswith("_")]


def spelling_hint(location: tuple, title: str | None = None) -> str:
    """``did you mean `transmission`?`` for an unknown field, or how to find the valid names.

    ``title``: the name of the model that was validated (a ValidationError's ``title``).
    """
    root = root_model(title)
    names = field_names(tuple(location), root) if root is not None else []
    near = difflib.get_close_matches(str(location[-1]) if location else "", names, n=1, cutoff=0.6) if names else []
    if near:
        return f"did you mean `{near[0]}`?"
    if names:
        return f"remove it or use one of: {', '.join(names)}"
    return "remove it or check the spelling"


class _OneError:
    """One item of a ValidationError, shaped like one (``errors()``, ``title``) for ``describe_validation_error``."""

    def __init__(self, item: dict, title: str):
        self.item = item
        self.title = title

    def errors(self, include_url: bool = False) -> list[dict]:  # noqa: ARG002 - same signature as pydantic's
        return [self.item]


def collect_problems(load_raw, model: type[BaseModel], source: str | Path,
                     overrides: dict[str, Any] | None) -> list[str]:
    """Every problem of ``source`` read by ``load_raw`` and validated by ``model``, one line each.

    The engine of :func:`scenario_problems`; a region passes its own reader and model
    (:func:`zerosim.region.config.region_problems`).
    """
    from zerosim.io import scenario as scenarios

    try:
        data = load_raw(source)
        if "name" not in data:
            data["name"] = Path(str(source)).stem
        scenarios.apply_dotted(data, overrides)
    except ScenarioError as error:
        return [str(error)]
    try:
        model.model_validate(copy.deepcopy(data))
    except ValidationError as error:
        lines = []
        for item in error.errors(include_url=False):
            line = scenarios.describe_validation_error(_OneError(item, error.title))
            if line not in lines:
                lines.append(line)
        return lines
    except ScenarioError as error:
        return [str(error)]
    return []


def scenario_problems(source: str | Path, overrides: dict[str, Any] | None = None) -> list[str]:
    """Every problem of a scenario, one line each (empty when it is valid).

    A file that cannot be read or parsed, or that extends a missing file, is one problem. Otherwise
    every field error pydantic finds is listed; checks across fields (timeline days, district names)
    run once the fields are valid, so they appear on the next run of ``validate`` after the fixes.
    """
    from zerosim.io import scenario as scenarios

    return collect_problems(scenarios.load_raw, scenarios.Scenario, source, overrides)



__all__ = ["collect_problems", "field_names", "scenario_problems", "spelling_hint"]
