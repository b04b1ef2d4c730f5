"""Experiments layer (calibration): priors over dotted scenario paths, and the observation parameter.

Layer ``experiments`` -- imports ``io`` (scenario models) and the config models of the layers below.

A prior is ``PATH=DIST(a,b)``: ``PATH`` is any field ``zerosim run --set`` accepts
(``transmission.r0``, ``seeding.0.count``, ``behaviour.base_compliance``,
``containment.zoning.sealed_release_days`` ...) or ``ascertainment`` (the share of the model's
cases that gets reported; not a scenario field). ``DIST`` is one of

* ``uniform(low, high)``
* ``loguniform(low, high)``  (low > 0)
* ``normal(mean, sd)``

Values of integer fields (``seeding.0.count``, ``seeding.0.day``, ...) are rounded to the nearest
whole number before they are applied; the prior itself stays continuous.
"""

from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from zerosim.errors import ScenarioError

#: The observation parameter: reported cases = ascertainment x the model's observed series.
ASCERTAINMENT = "ascertainment"
DISTRIBUTIONS = ("uniform", "loguniform", "normal")
_PRIOR = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([a-z]+)\s*\(\s*([^,()]+)\s*,\s*([^,()]+)\s*\)\s*$")


@dataclass(frozen=True)
class Prior:
    """One fitted parameter: its dotted path, distribution and arguments; ``integer`` fields are rounded."""

    path: str
    distribution: str
    a: float
    b: float
    integer: bool = False

    @property
    def text(self) -> str:
        return f"{self.distribution}({self.a:g},{self.b:g})"

    @property
    def key(self) -> str:
        """Name of the parameter inside pyabc (letters, digits and underscores only)."""
        return "p_" + re.sub(r"\W", "_", self.path)

    def support(self) -> tuple[float, float]:
        """Range the prior puts (almost) all of its mass on: bounds, or mean +- 3 sd."""
        if self.distribution == "normal":
            return self.a - 3 * self.b, self.a + 3 * self.b
        return self.a, self.b

    def cast(self, value: float) -> float | int:
        """The value applied to the scenario (rounded for integer fields)."""
        return int(round(value)) if self.integer else float(value)  # noqa: RUF046 - numpy floats

    def rv(self):
        """The pyabc random variable of this prior."""
        import pyabc

        if self.distribution == "uniform":
            return pyabc.RV("uniform", self.a, self.b - self.a)
        if self.distribution == "loguniform":
            return pyabc.RV("loguniform", self.a, self.b)
        return pyabc.RV("norm", self.a, self.b)


def parse_prior(text: str, option: str = "--prior") -> Prior:
    """``"transmission.r0=uniform(1.5,4)"`` -> Prior (``integer`` is set later, from the scenario).

    Raises ScenarioError naming ``option`` for a malformed prior.
    """
    match = _PRIOR.match(text)
    if not match:
        raise ScenarioError(f"{option} {text}: expected PATH=DIST(a,b), e.g. transmission.r0=uniform(1.5,4); "
                            f"DIST is one of {', '.join(DISTRIBUTIONS)}")
    path, distribution, raw_a, raw_b = match.groups()
    return _checked(path, distribution, raw_a, raw_b, f"{option} {text}")


def prior_from_spec(path: str, value: Any) -> Prior:
    """A prior given in a spec file: ``transmission.r0: uniform(1.5, 4)``."""
    return parse_prior(f"{path}={value}", option=f"--spec priors.{path}")


def _checked(path: str, distribution: str, raw_a: str, raw_b: str, where: str) -> Prior:
    if distribution not in DISTRIBUTIONS:
        raise ScenarioError(f"{where}: unknown distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}")
    try:
        a, b = float(raw_a), float(raw_b)
    except ValueError:
        raise ScenarioError(f"{where}: the arguments must be numbers, got {raw_a.strip()!r}, {raw_b.strip()!r}") from None
    if not (math.isfinite(a) and math.isfinite(b)):
        raise ScenarioError(f"{where}: the arguments must be finite numbers")
    if distribution == "normal":
        if b <= 0:
            raise ScenarioError(f"{where}: normal(mean, sd) needs sd > 0, got {b:g}")
    elif b <= a:
        raise ScenarioError(f"{where}: {distribution}(low, high) needs high > low, got {a:g}, {b:g}")
    if distribution == "loguniform" and a <= 0:
        raise ScenarioError(f"{where}: loguniform(low, high) needs low > 0, got {a:g}")
    if path == ASCERTAINMENT and (a < 0 or (distribution != "normal" and b > 1)):
        raise ScenarioError(f"{where}: ascertainment is a share of cases; keep it within 0..1")
    return Prior(path=path, distribution=distribution, a=a, b=b)


# -- which fields are integers, and is the path a field at all -------------------------------------
def _section_models() -> dict[tuple[str, ...], type[BaseModel]]:
    """Scenario sections typed as free mappings, and the model their keys belong to."""
    from zerosim.disease.config import DiseaseConfig
    from zerosim.ledger.config import BehaviourConfig, LedgerConfig
    from zerosim.policy.config import ContainmentConfig

    return {("containment",): ContainmentConfig, ("behaviour",): BehaviourConfig, ("ledger",): LedgerConfig,
            ("disease", "overrides"): DiseaseConfig, ("timeline", "*", "containment"): ContainmentConfig}


def _unwrap(annotation: Any) -> list[Any]:
    """The alternatives of an annotation, without None and Annotated wrappers."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [alt for arg in typing.get_args(annotation) for alt in _unwrap(arg) if alt is not type(None)]
    return [annotation]


def field_type(path: str) -> type | None:
    """The Python type (int, float, bool, ...) of the scenario field at dotted ``path``, or None if unknown."""
    from zerosim.io.scenario import Scenario

    sections = _section_models()
    keys = path.split(".")
    current: Any = Scenario
    walked: list[str] = []
    for key in keys:
        pattern = tuple("*" if part.isdigit() else part for part in walked)
        if pattern in sections:
            current = sections[pattern]
        options = _unwrap(current)
        nxt = None
        for option in options:
            if isinstance(option, type) and issubclass(option, BaseModel):
                field = option.model_fields.get(key)
                if field is not None:
                    nxt = field.annotation
            elif typing.get_origin(option) is list and key.isdigit():
                nxt = typing.get_args(option)[0]
            elif typing.get_origin(option) is dict:
                nxt = typing.get_args(option)[1]
            if nxt is not None:
                break
        if nxt is None:
            return None
        current = nxt
        walked.append(key)
    pattern = tuple("*" if part.isdigit() else part for part in walked)
    if pattern in sections:
        return None
    for option in _unwrap(current):
        if option in (bool, int, float):
            return option
    return None


def resolve_priors(priors: list[Prior], scenario_data: dict) -> list[Prior]:
    """Check every prior against the scenario and mark integer fields.

    Each prior's path must be a numeric field, and the ends of its support must give a valid
    scenario; else a one-line ScenarioError naming ``--prior PATH``.
    """
    from zerosim.io.scenario import apply_overrides

    seen: set[str] = set()
    resolved = []
    for prior in priors:
        where = f"--prior {prior.path}"
        if prior.path in seen:
            raise ScenarioError(f"{where}: given twice; give one prior per field")
        seen.add(prior.path)
        if prior.path == ASCERTAINMENT:
            resolved.append(prior)
            continue
        parts = prior.path.split(".")
        if len(parts) == 3 and parts[0] == "seeding" and parts[2] == "count" and parts[1].isdigit():
            seedings = scenario_data.get("seeding") or []
            index = int(parts[1])
            if index < len(seedings) and isinstance(seedings[index], dict) and seedings[index].get("per_100k"):
                raise ScenarioError(f"{where}: this seeding is given per_100k, which overrides count; put the prior "
                                    f"on seeding.{index}.per_100k, or add --set seeding.{index}.per_100k=null")
        kind = field_type(prior.path)
        if kind is bool:
            raise ScenarioError(f"{where}: is a yes/no field and cannot be fitted; set it with --set")
        integer = kind is int
        candidate = Prior(prior.path, prior.distribution, prior.a, prior.b, integer)
        low, high = candidate.support()
        for value in (low, high):
            try:
                apply_overrides(scenario_data, {prior.path: candidate.cast(value)})
            except ScenarioError as error:
                if kind is None:
                    reason = str(error).split(";")[0]
                    raise ScenarioError(f"{where}: not a numeric scenario field ({reason}); use a path that "
                                        f"`zerosim run --set` accepts, e.g. transmission.r0") from None
                raise ScenarioError(f"{where}={candidate.text}: the value {candidate.cast(value):g} is not allowed "
                                    f"({error}); narrow the prior") from None
        if kind is None:
            raise ScenarioError(f"{where}: not a numeric scenario field; use a path that `zerosim run --set` "
                                f"accepts with a number, e.g. transmission.r0 or seeding.0.count")
        resolved.append(candidate)
    if not resolved:
        raise ScenarioError("--prior: no priors given; add --prior PATH=uniform(a,b) (repeatable) or a --spec file "
                            "with a priors: section")
    return resolved


def pyabc_prior(priors: list[Prior]):
    """The pyabc Distribution over the priors' keys."""
    import pyabc

    return pyabc.Distribution({prior.key: prior.rv() for prior in priors})
