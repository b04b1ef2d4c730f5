"""IO layer: scenario files (YAML) validated by pydantic, built-ins, ``extends:`` and overrides.

Layer ``io`` -- imports the config models of the layers below; validation happens here once, and
every failure becomes a one-line :class:`~zerosim.errors.ScenarioError` naming the field.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
import hashlib
import json
import math
import os
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from zerosim.behaviour.config import BehaviourConfig
from zerosim.disease.config import DiseaseConfig, preset, preset_names
from zerosim.errors import ScenarioError
from zerosim.io.paths import check_path
from zerosim.io.safe_yaml import MAX_YAML_BYTES, dump_yaml, load_yaml
from zerosim.ledger.config import LedgerConfig, default_behaviour, default_ledger
from zerosim.policy.config import ContainmentConfig
from zerosim.policy.presets import merge_overrides, resolve_containment
from zerosim.policy.presets import preset_names as policy_preset_names
from zerosim.population.synthesis import city_tables
from zerosim.population.config import PopulationConfig
from zerosim.transmission.config import SeedingConfig, TransmissionConfig

SCHEMA_VERSION = 1

ModelT = TypeVar("ModelT")


class DiseaseSelection(BaseModel):
    """A variant preset plus overrides of any of its fields (nested mapping or dotted keys)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    variant: str = Field("omicron_ba2", description=f"Variant preset: {', '.join(preset_names())} (disease/presets.yaml).")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Fields of the preset to change.")

    @field_validator("variant")
    @classmethod
    def _known_variant(cls, value: str) -> str:
        if value not in preset_names():
            raise ValueError(f"unknown variant {value!r}; choose one of {', '.join(preset_names())}")
        return value

    def resolve(self) -> DiseaseConfig:
        """The preset with the overrides applied, validated."""
        return DiseaseConfig.model_validate(apply_dotted(preset(self.variant).model_dump(), self.overrides))

    @model_validator(mode="after")
    def _overrides_valid(self) -> "DiseaseSelection":
        self.resolve()
        return self


class TimelineStep(BaseModel):
    """From ``day`` (or calendar ``date``) on, the containment is preset ``policy`` with ``containment`` overrides."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    day: int = Field(ge=1, description="First day (0-based) of this period; give either day or date.")
    date: dt.date | None = Field(None, description="Calendar date of the change (needs the scenario's start_date).")
    note: str = Field("", description="What happened that day and its source (for the reader; not used).")
    policy: str = Field(description="Containment preset from this day on (e.g. none: the exit).")
    containment: dict[str, Any] = Field(default_factory=dict, description="Overrides of that preset.")


class OutputConfig(BaseModel):
    """What a run writes besides the fixed contract files."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    figures: bool = Field(True, description="Write PNG figures.")


class ScenarioDocument(BaseModel):
    """What every scenario kind (a city, a region) can do with itself once validated."""

    model_config = ConfigDict(allow_inf_nan=False)  # every number that enters is finite (subclasses keep it)

    def _document(self) -> dict:
        data = self.model_dump(mode="json")
        if not data.get("components"):
            data.pop("components", None)  # no extension components: the same file and hash as before they existed
        return data

    def digest(self) -> str:
        """A short hash of the resolved scenario (recorded in summary.json)."""
        text = json.dumps(self._document(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_yaml(self) -> str:
        return dump_yaml(self._document())


class Scenario(ScenarioDocument):
    """A complete, validated zerosim scenario."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field("custom", min_length=1, max_length=120,
                      description="Scenario name, recorded in the outputs (it names folders: at most 120 characters).")
    description: str = Field("", description="One or two sentences on what the scenario is.")
    seed: int = Field(1, ge=0, le=2**63 - 1, description="The single seed of every random stream.")
    duration_days: int = Field(120, ge=1, le=3650, description="Days to simulate.")
    start_date: date | None = Field(None, description="Calendar date of day 0 (for labels).")
    population: PopulationConfig = Field(default_factory=PopulationConfig)
    disease: DiseaseSelection = Field(default_factory=DiseaseSelection)
    transmission: TransmissionConfig = Field(default_factory=TransmissionConfig)
    seeding: list[SeedingConfig] = Field(default_factory=lambda: [SeedingConfig()])
    policy: str = Field("none", description="Containment preset: none, dynamic-zero-2022, shijiazhuang-2021, ...")
    containment: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the preset's fields, e.g. {testing.campaigns.0.pool_size: 20}."
    )
    timeline: list[TimelineStep] = Field(
        default_factory=list, description="Policy changes on given days, e.g. [{day: 92, policy: none}] (the exit)."
    )
    ledger: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the ledger's rates, e.g. {food.stock_days_mean: 10}."
    )
    behaviour: dict[str, Any] = Field(
        default_factory=dict, description="Overrides of the behaviour model, e.g. {enabled: true}."
    )
    components: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict,
        description="Components from installed packages (entry-point group zerosim.components), by kind, each "
                    "with its settings, e.g. {mask_mandate: {start_day: 10}}.")
    outputs: OutputConfig = Field(default_factory=OutputConfig)

    @model_validator(mode="before")
    @classmethod
    def _timeline_dates(cls, data: Any) -> Any:
        """A timeline step may give a calendar ``date`` instead of a ``day``: day = date - start_date."""
        if not isinstance(data, dict) or not isinstance(data.get("timeline"), list):
            return data
        steps = []
        for index, step in enumerate(data["timeline"]):
            if isinstance(step, dict) and step.get("date") is not None and step.get("day") is None:
                start = data.get("start_date")
                if start is None:
                    raise ValueError(f"timeline.{index}.date needs the scenario's start_date; set start_date or give day")
                try:
                    when = dt.date.fromisoformat(str(step["date"]))
                    start = dt.date.fromisoformat(str(start))
                except ValueError:
                    raise ValueError(f"timeline.{index}.date: not a date (YYYY-MM-DD): {step['date']!r}") from None
                step = {**step, "day": (when - start).days}
                if step["day"] < 1:
                    raise ValueError(f"timeline.{index}.date {when} is not after start_date {start}; give a later date")
            steps.append(step)
        return {**data, "timeline": steps}

    @field_validator("name", "description", mode="before")
    @classmethod
    def _number_as_text(cls, value: Any) -> Any:
        """``name: 2022`` (or ``--set name=1e5``) is a name, not a type error."""
        return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value

    @field_validator("policy")
    @classmethod
    def _known_policy(cls, value: str) -> str:
        if value not in policy_preset_names():
            raise ValueError(f"unknown containment preset {value!r}; choose one of {', '.join(policy_preset_names())}")
        return value

    def resolved_containment(self) -> ContainmentConfig:
        """The containment preset with this scenario's overrides applied."""
        return resolve_containment(self.policy, self.containment)

    def resolved_periods(self) -> list[tuple[int, ContainmentConfig]]:
        """(first day, containment) of each policy period: the scenario's own from day 0, then the timeline."""
        periods = [(0, self.resolved_containment())]
        for step in self.timeline:
            periods.append((step.day, resolve_containment(step.policy, step.containment)))
        return periods

    def resolved_ledger(self) -> LedgerConfig:
        """The shipped ledger rates with this scenario's overrides."""
        return LedgerConfig.model_validate(merge_overrides(default_ledger().model_dump(), self.ledger))

    def resolved_behaviour(self) -> BehaviourConfig:
        """The shipped behaviour model with this scenario's overrides."""
        return BehaviourConfig.model_validate(merge_overrides(default_behaviour().model_dump(), self.behaviour))

    def resolved_components(self) -> list[tuple[type, BaseModel]]:
        """(class, validated settings) of each extension component the scenario switches on, in file order."""
        from zerosim.engine.registry import COMPONENTS, component_class, extension_kinds

        resolved = []
        for kind, settings in self.components.items():
            if kind in COMPONENTS:
                raise ValueError(f"components.{kind}: a built-in part of zerosim; configure it under containment, "
                                 "behaviour or ledger instead")
            try:
                cls = component_class(kind)
            except KeyError:
                offered = ", ".join(sorted(extension_kinds())) or "none"
                raise ValueError(f"components.{kind}: no installed package offers this component (installed: {offered}); "
                                 f"pip install the package that provides it, or check the name") from None
            except (ImportError, AttributeError, TypeError) as error:
                raise ValueError(f"components.{kind}: its package failed to load ({error}); reinstall it") from None
            model = getattr(cls, "Config", None)
            if model is None:
                if settings:
                    raise ValueError(f"components.{kind}: takes no settings; give {{}}")
                resolved.append((cls, None))
                continue
            try:
                resolved.append((cls, model.model_validate(settings or {})))
            except ValidationError as error:
                raise ValueError(f"components.{kind}." + describe_validation_error(error)) from None
        return resolved

    @model_validator(mode="after")
    def _consistent(self) -> "Scenario":
        self.resolved_components()
        for section, resolve in (("ledger", self.resolved_ledger), ("behaviour", self.resolved_behaviour)):
            try:
                resolve()
            except ValidationError as error:
                raise ValueError(f"{section}." + describe_validation_error(error)) from None
            except ValueError as error:
                raise ValueError(f"{section}: {error}") from None
        # The scenario's own containment first: a --set containment.X lands there and in every timeline
        # step, and the error should name the key the user gave.
        try:
            self.resolved_containment()
        except ValidationError as error:
            raise ValueError("containment." + describe_validation_error(error)) from None
        except ValueError as error:
            raise ValueError(f"containment: {error}") from None
        days = [step.day for step in self.timeline]
        if days != sorted(set(days)):
            raise ValueError("timeline: days must increase strictly; give each policy change its own later day")
        for index, step in enumerate(self.timeline):
            if step.day >= self.duration_days:
                raise ValueError(f"timeline.{index}.day is {step.day} but the run lasts {self.duration_days} days; "
                                 f"run at least {step.day + 1} days or move the step earlier")
            if step.policy not in policy_preset_names():
                raise ValueError(f"timeline.{index}.policy: unknown preset {step.policy!r}; choose one of "
                                 f"{', '.join(policy_preset_names())}")
            try:
                resolve_containment(step.policy, step.containment)
            except ValidationError as error:
                raise ValueError(f"timeline.{index}.containment." + describe_validation_error(error)) from None
        size = self.population.size
        for index, seeding in enumerate(self.seeding):
            if seeding.day >= self.duration_days:
                raise ValueError(
                    f"seeding.{index}.day is {seeding.day} but the run lasts {self.duration_days} days; seed earlier"
                )
            if seeding.per_100k is None and seeding.count > size:
                raise ValueError(f"seeding.{index}.count is {seeding.count:,} but the city has {size:,} people; "
                                 f"seed at most population.size")
        seeded = sum(seeding.resolved_count(size) for seeding in self.seeding)
        if seeded > size:
            raise ValueError(f"seeding: {seeded:,} people seeded in all but the city has {size:,}; seed fewer")
        self._check_district_names()
        return self

    def _check_district_names(self) -> None:
        """Seeding districts and ordered district lockdowns must name districts of the city."""
        names = list(city_tables(self.population.city).district_names)
        known = {name.lower() for name in names}

        def check(wanted: list[str], field: str) -> None:
            for name in wanted:
                if name.lower() not in known:
                    raise ValueError(f"{field}: unknown district {name!r}; {self.population.city} has {', '.join(names)}")

        for index, seeding in enumerate(self.seeding):
            check([seeding.district] if seeding.district else [], f"seeding.{index}.district")
        check(self.resolved_containment().zoning.districts_sealed, "containment.zoning.districts_sealed")
        for index, step in enumerate(self.timeline):
            check(resolve_containment(step.policy, step.containment).zoning.districts_sealed,
                  f"timeline.{index}.containment.zoning.districts_sealed")



# -- built-in scenarios --------------------------------------------------------------------------
def builtin_names() -> list[str]:
    """Names of the scenarios shipped in the package."""
    folder = resources.files("zerosim.io").joinpath("scenarios")
    return sorted(p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml"))


def _builtin_text(name: str) -> str:
    return resources.files("zerosim.io").joinpath(f"scenarios/{name}.yaml").read_text(encoding="utf-8")


# -- loading -------------------------------------------------------------------------------------
def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``dotted = "a.b.c"``; list items by index (``seeding.0.day``)."""
    keys = dotted.split(".")
    node: Any = data
    for position, key in enumerate(keys[:-1]):
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise ScenarioError(f"{'.'.join(keys[: position + 1])}: no list item {key}; use an index below {len(node)}")
            node = node[int(key)]
            continue
        if key not in node or node[key] is None:
            node[key] = {}
        elif not isinstance(node[key], (dict, list)):
            raise ScenarioError(f"{'.'.join(keys[: position + 1])}: is a value, not a section; cannot set {dotted}")
        node = node[key]
    last = keys[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) >= len(node):
            raise ScenarioError(f"{dotted}: no list item {last}; use an index below {len(node)}")
        node[int(last)] = value
    else:
        node[last] = value


def walk_path(node: Any, keys: Sequence[str]) -> tuple[bool, Any]:
    """(found, value) of a dotted path, given as its keys, in plain data (list items by index)."""
    for key in keys:
        if isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                return False, None
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            return False, None
    return True, node


def set_containment(data: dict, path: str, value: Any) -> dict:
    """Set ``containment.<path>`` in the raw scenario ``data`` for the whole run, in place; return ``data``.

    A scenario's ``containment`` holds until its timeline's first step; each step brings its own (its
    preset and its overrides). So a field set only there would silently stop at the first step: it is
    laid over the scenario's containment and over every step's whose resolved containment has the field
    (a step with fewer campaigns keeps its own). ``--set``, frontier levers and calibration priors under
    ``containment.`` all go through here.
    """
    keys = path.split(".")
    data["containment"] = _laid_over(data.get("containment") or {}, path, value)
    for step in data.get("timeline") or []:
        if not isinstance(step, dict):
            continue  # the step's own problem: validation names it
        try:
            resolved = resolve_containment(step["policy"], step.get("containment") or {}).model_dump(mode="json")
        except (ValueError, KeyError, TypeError):
            continue
        if walk_path(resolved, keys)[0]:
            step["containment"] = _laid_over(step.get("containment") or {}, path, value)
    return data


def _laid_over(containment: Any, key: str, value: Any) -> dict:
    """``containment`` (a mapping of nested or dotted overrides) with the dotted ``key`` set last."""
    kept = {k: v for k, v in containment.items() if k != key} if isinstance(containment, dict) else {}
    return {**kept, key: value}


def apply_scenario_overrides(data: dict, overrides: Mapping[str, Any] | None) -> dict:
    """:func:`apply_dotted` for a scenario: ``containment.*`` keys hold in every period (:func:`set_containment`),
    and a run shortened by ``duration_days`` drops the timeline steps that fall after its end (they could not
    act; a scenario file whose own steps lie past its own end is still an error)."""
    for key, value in (overrides or {}).items():
        if key.startswith("containment.") and isinstance(data.get("timeline"), list) and data["timeline"]:
            set_containment(data, key.removeprefix("containment."), value)
        else:
            _set_dotted(data, key, value)
        if key == "duration_days" and isinstance(value, int) and not isinstance(value, bool) \
                and isinstance(data.get("timeline"), list):
            data["timeline"] = [step for step in data["timeline"] if not _step_day(step, data) >= value]
    return data


def _step_day(step: Any, data: dict) -> float:
    """The day of a raw timeline step (its ``day``, or its ``date`` from the scenario's ``start_date``);
    -inf when it cannot be told here (validation then names the problem)."""
    if not isinstance(step, dict):
        return -math.inf
    if isinstance(step.get("day"), int) and not isinstance(step.get("day"), bool):
        return step["day"]
    try:
        when, start = (value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
                       for value in (step["date"], data["start_date"]))
    except (KeyError, TypeError, ValueError):
        return -math.inf
    return (when - start).days


def apply_dotted(data: dict, overrides: Mapping[str, Any] | None) -> dict:
    """Set every dotted key of ``overrides`` in the raw mapping ``data``, in order, in place; no validation.

    The step under :func:`apply_overrides`, for code that validates the mapping itself (a region, or a
    listing of every problem). ``a.b.c`` sets ``data["a"]["b"]["c"]``; list items go by index
    (``seeding.0.day``); a missing section is created.

    Returns
    -------
    dict
        ``data`` itself.

    Raises
    ------
    ScenarioError
        A key that walks into a plain value or past the end of a list (one line naming the key).
    """
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value)
    return data


def parse_mapping(text: str, origin: str) -> dict:
    """The YAML ``text`` of a scenario (or region) file as a mapping; ``origin`` names it in errors."""
    data = load_yaml(text, origin)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{origin}: a scenario must be a YAML mapping of fields, got {type(data).__name__}")
    return data


def source_identity(source: str | Path) -> str:
    """What a scenario source is, for cycle detection: ``builtin:<name>`` or the file's real path."""
    text_source = str(source)
    if text_source in builtin_names() and not Path(text_source).suffix:
        return f"builtin:{text_source}"
    return os.path.realpath(text_source)


def load_raw(source: str | Path, seen: tuple[str, ...] = ()) -> dict:
    """The raw mapping of a built-in name or a file, with ``extends:`` resolved.

    ``seen`` holds the identities (:func:`source_identity`) of the files extending this one; a
    source met again is a cycle (compared by real path, so ``./a.yaml`` and ``sub/../a.yaml`` are
    one file).
    """
    text_source = str(source)
    if text_source in builtin_names() and not Path(text_source).suffix:
        origin, text, base_dir = f"built-in '{text_source}'", _builtin_text(text_source), None
    else:
        path = check_path(text_source, "scenario", ScenarioError)
        if not path.exists():
            raise ScenarioError(
                f"scenario: '{text_source}' is neither a file nor a built-in; give an existing YAML file or one of "
                f"{', '.join(builtin_names())}"
            )
        if path.is_dir():
            raise ScenarioError(f"scenario: '{text_source}' is a directory; give a YAML scenario file")
        try:
            if path.stat().st_size > MAX_YAML_BYTES:
                raise ScenarioError(f"scenario: '{text_source}' is {path.stat().st_size:,} bytes, more than "
                                    f"{MAX_YAML_BYTES:,}; a scenario file is a few kB, check the file")
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ScenarioError(f"scenario: cannot read '{text_source}' ({error.__class__.__name__}); check the file") from None
        origin, base_dir = str(path), path.parent
    identity = source_identity(text_source)
    data = parse_mapping(text, origin)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent.strip():
        raise ScenarioError(f"{origin}: extends: must be a built-in name or a file path, got {str(parent)[:40]!r}")
    if base_dir is not None and parent not in builtin_names():
        parent = str(base_dir / parent)
    chain = seen + (identity,)
    if source_identity(parent) in chain:
        loop = " -> ".join(Path(step.removeprefix("builtin:")).name for step in chain + (source_identity(parent),))
        raise ScenarioError(f"extends: '{parent}' extends itself ({loop[:200]}); break the cycle")
    base = load_raw(parent, chain)
    return merge_mapping(base, data)


def merge_mapping(base: dict, override: dict) -> dict:
    """``override`` laid over a copy of ``base`` (as ``extends:`` does): sections merge key by key,
    dotted keys set nested fields, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if "." in key:
            _set_dotted(merged, key, value)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_mapping(merged[key], value)
        else:
            merged[key] = value
    return merged


def parse_set(assignment: str) -> tuple[str, Any]:
    """``"a.b=value"`` -> ("a.b", value parsed as YAML: numbers, booleans, lists)."""
    if "=" not in assignment:
        raise ScenarioError(f"--set {assignment}: expected dotted.path=value, e.g. --set transmission.r0=2.5")
    key, _, raw = assignment.partition("=")
    key = key.strip()
    if not key:
        raise ScenarioError(f"--set {assignment}: the field name is empty; use dotted.path=value")
    if not raw.strip():
        return key, ""
    if len(raw) > 10_000:
        raise ScenarioError(f"--set {key}: the value is {len(raw):,} characters long; give a short value")
    try:
        value = load_yaml(raw, f"--set {key}")
    except ScenarioError as error:
        if "alias" in str(error) or "nested" in str(error) or "expands" in str(error):
            raise
        value = raw  # not YAML: kept as text, and the field's validation says what it wants
    return key, value


def load_scenario(source: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load a built-in name or YAML file, apply dotted ``overrides``, validate.

    Raises
    ------
    ScenarioError
        With the field path and the fix, for anything wrong.
    """
    data = load_raw(source)
    if "name" not in data:
        data["name"] = Path(str(source)).stem
    return validate_mapping(apply_scenario_overrides(data, overrides))


def validate_mapping(data: dict) -> Scenario:
    """Validate a raw mapping into a Scenario; errors become one-line ScenarioErrors."""
    try:
        return Scenario.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(describe_validation_error(error)) from None


def apply_overrides(
    scenario: BaseModel | Mapping[str, Any],
    overrides: Mapping[str, Any] | None,
    *,
    validate: Callable[[dict], ModelT] = validate_mapping,  # type: ignore[assignment]
) -> ModelT:
    """A validated copy of ``scenario`` with dotted ``overrides`` applied (``scenario`` is not changed).

    Parameters
    ----------
    scenario : Scenario (any pydantic scenario model) or raw mapping
        A model is dumped to its JSON form first; a mapping is deep-copied.
    overrides : mapping of dotted field -> value, e.g. ``{"policy": "dynamic-zero-2022", "seeding.0.day": 3}``
        Applied in order, as ``--set`` does.
    validate : the validation of the result (default :func:`validate_mapping`, giving a Scenario; a region
        passes :func:`zerosim.region.config.validate_region`).

    Raises
    ------
    ScenarioError
        One line naming the field, for a key that does not fit the mapping or a value that fails validation.

    Examples
    --------
    >>> fast = apply_overrides(load_scenario("demo"), {"duration_days": 20, "seed": 7})
    """
    data = scenario.model_dump(mode="json") if isinstance(scenario, BaseModel) else copy.deepcopy(dict(scenario))
    if validate is validate_mapping:  # a scenario: containment overrides hold in every period
        return validate(apply_scenario_overrides(data, overrides))
    return validate(apply_dotted(data, overrides))


def _short(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters (an error message stays one short line)."""
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_validation_error(error: ValidationError) -> str:
    """The first problem of a pydantic error as 'field: what is wrong, got X; how to fix' (one short line)."""
    first = error.errors(include_url=False)[0]
    location = ".".join(str(part)[:60] for part in first["loc"])[:200] or "scenario"
    kind = first["type"]
    given = _short(first.get("input"))
    context = first.get("ctx") or {}
    if kind == "extra_forbidden":
        from zerosim.io.problems import spelling_hint  # noqa: PLC0415 - io.problems imports this module

        return f"{location}: unknown field; {spelling_hint(first['loc'], getattr(error, 'title', None))}"
    if kind == "missing":
        return f"{location}: required field is missing; add it"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": "> {gt}", "greater_than_equal": ">= {ge}", "less_than": "< {lt}", "less_than_equal": "<= {le}"}[kind]
        return f"{location}: must be {bound.format(**context)}, got {given}; give a value in range"
    if kind == "finite_number":
        return f"{location}: must be a finite number, got {given}; give an ordinary number (no inf or nan)"
    if kind == "value_error":
        message = str(context.get("error", first["msg"]))[:300]
        return f"{location}: {message}" if location != "scenario" else message
    if kind == "literal_error":
        return f"{location}: got {given}; expected {str(context.get('expected'))[:100]}"
    return f"{location}: {first['msg'].lower()[:200]}, got {given}; fix the value"
