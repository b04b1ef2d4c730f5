"""Population layer: the one state schema of a zerosim run, as struct-of-arrays NumPy.

Layer ``population`` -- imports only numpy and ``zerosim.errors``; never a layer above it.

Agents are stored **sorted by residence**: district, then subdistrict, compound, building and
household. Every residential unit is therefore a contiguous range of agent indices, described
by an offsets array (``household_start[h] .. household_start[h+1]``), which costs ~2 bytes per
agent instead of a membership index. Workplaces and schools are not contiguous and use CSR
indexes (``workplace_offsets`` / ``workplace_members``).

Every per-agent array is declared once in :data:`AGENT_SCHEMA` (name, dtype, fill, meaning) and
allocated at full size when the state is created; components declare which of these names they
read and write, and the engine checks the names against this schema.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

#: Day sentinel meaning "never" in int16 day arrays.
NEVER = -1
#: Sentinel for "no such group" in int32 id arrays (no workplace, no school, no facility).
NO_GROUP = -1


class Compartment(IntEnum):
    """Natural-history state of one agent (int8)."""

    SUSCEPTIBLE = 0
    EXPOSED = 1
    PRESYMPTOMATIC = 2
    ASYMPTOMATIC = 3
    MILD = 4
    SEVERE = 5
    CRITICAL = 6
    RECOVERED = 7
    DEAD = 8


COMPARTMENT_COUNT = len(Compartment)
#: Age bands (lower bounds, years) used by every age-specific table and output: 0-9, 10-19, ..., 80+.
AGE_BAND_LOWER_YEARS: tuple[int, ...] = (0, 10, 20, 30, 40, 50, 60, 70, 80)
AGE_BAND_COUNT = len(AGE_BAND_LOWER_YEARS)
#: Compartments counted as "infectious" in outputs (infectiousness itself follows viral load).
INFECTIOUS_COMPARTMENTS = (
    Compartment.PRESYMPTOMATIC,
    Compartment.ASYMPTOMATIC,
    Compartment.MILD,
    Compartment.SEVERE,
    Compartment.CRITICAL,
)


class Mobility(IntEnum):
    """How far an agent may go today (int8). Policies set it; contact layers consult it."""

    FREE = 0
    COMPOUND = 1  # may not leave the residential compound (管控区 controlled zone)
    HOME = 2  # may not leave home (封控区 sealed zone, home quarantine)
    FACILITY = 3  # in a centralized isolation / quarantine facility
    AWAY = 4  # not in this city today: a resident travelling, or an empty visitor slot (zerosim.region);
    #           above every layer's limit, so contact layers skip it; Confinement leaves it as it is


class Sex(IntEnum):
    FEMALE = 0
    MALE = 1


class Sector(IntEnum):
    """What an agent does by day (int8): a workplace sector, a school type, or neither."""

    NONE = 0  # neither works nor studies (young children, retired, not employed)
    RETAIL = 1
    CATERING = 2
    MANUFACTURING = 3
    OFFICE = 4
    LOGISTICS = 5
    HEALTH = 6
    PUBLIC_SERVICE = 7
    KINDERGARTEN = 8
    PRIMARY_SCHOOL = 9
    JUNIOR_SECONDARY = 10
    SENIOR_SECONDARY = 11


WORK_SECTORS = tuple(Sector(s) for s in range(Sector.RETAIL, Sector.PUBLIC_SERVICE + 1))
SCHOOL_SECTORS = tuple(Sector(s) for s in range(Sector.KINDERGARTEN, Sector.SENIOR_SECONDARY + 1))
#: Work sectors by the name scenario files, sectors.csv and the ledger's tables use: the member's
#: name in lower case (``"public_service"`` -> ``Sector.PUBLIC_SERVICE``), in code order.
WORK_SECTOR_CODE: dict[str, Sector] = {sector.name.lower(): sector for sector in WORK_SECTORS}
WORK_SECTOR_NAMES: tuple[str, ...] = tuple(WORK_SECTOR_CODE)


class TestResult(IntEnum):
    """Latest known PCR result of an agent (int8)."""

    NONE = 0  # never tested
    NEGATIVE = 1
    POSITIVE = 2
    PENDING_RETEST = 3  # the agent's pooled tube was positive; waiting for an individual re-test


class IsolationStatus(IntEnum):
    """Where a detected case is (int8)."""

    NONE = 0
    WAITING = 1  # detected, waiting at home for transfer (no bed yet, or transfer delay)
    ISOLATED = 2  # in a centralized isolation facility (fangcang) or designated hospital
    HOME_MONITORING = 3  # discharged, home health monitoring
    RELEASED = 4  # done


class QuarantineStatus(IntEnum):
    """Contact-tracing status (int8)."""

    NONE = 0
    PENDING = 1  # identified as a close contact; picked up after the tracing delay
    WAITING_ROOM = 2  # close contact waiting at home for a quarantine room
    CENTRAL = 3  # in a centralized quarantine hotel
    HOME = 4  # home quarantine (secondary contact, or the home part after central quarantine)


class ZoneLevel(IntEnum):
    """Containment zone of a compound / subdistrict / district / the city (int8)."""

    NONE = 0
    PRECAUTION = 1  # 防范区: no gatherings, work only with a negative test
    CONTROLLED = 2  # 管控区: nobody leaves the compound
    SEALED = 3  # 封控区: nobody leaves home


#: Zone levels by the name scenario files use (``"sealed"`` -> 3), in code order.
LEVEL_CODE: dict[str, int] = {level.name.lower(): int(level) for level in ZoneLevel}

class WorkerType(IntEnum):
    """Employment type of a worker (int8): how much of the wage a day off work loses."""

    FORMAL = 0
    INFORMAL = 1
    GIG = 2
    SELF_EMPLOYED = 3


class HealthCode(IntEnum):
    """Health-code colour (int8). Green by default; policies change it."""

    GREEN = 0
    YELLOW = 1
    RED = 2


#: How a per-agent array moves with a person between cities (zerosim.region).
class Travel(IntEnum):
    """What happens to an array when its agent travels to another city (zerosim.region)."""

    WITH_PERSON = 0  # copied to the visitor slot on arrival and back home on return
    FIXED = 1  # copied on arrival only: it never changes during a run (age, doses)
    STAYS = 2  # belongs to the row, not the person (the slot's own household, compound, workplace ...)
    RESETS = 3  # today's condition of the row, not carried: whoever moves into the row (a visitor into a
    #             slot, a resident back home) starts at the fill value (mobility, a pending swab request,
    #             the row index of an infector in this city ...)


@dataclass(frozen=True, slots=True)
class ArraySpec:
    """One per-agent array: its name, dtype, fill value, meaning, owner and how it travels.

    ``owner`` names the component kind that writes it during a run ("population": written once at
    build and never again). The engine checks every component's ``writes`` against it. Components
    outside this module declare their own arrays (``states``) and the engine adds them to the run's
    state with :meth:`PopulationState.declare`.
    """

    name: str
    dtype: np.dtype
    fill: int | float
    meaning: str
    owner: str = "population"
    travel: Travel = Travel.WITH_PERSON

    @classmethod
    def of(cls, name: str, dtype: str, fill: int | float, meaning: str, owner: str = "population",
           travel: Travel = Travel.WITH_PERSON) -> ArraySpec:
        """A spec from a dtype name (``"int8"``) -- how components declare their arrays."""
        return cls(name, np.dtype(dtype), fill, meaning, owner, Travel(travel))


def _spec(name: str, dtype: str, fill: int | float, meaning: str, owner: str = "population",
          travel: Travel = Travel.WITH_PERSON) -> ArraySpec:
    return ArraySpec.of(name, dtype, fill, meaning, owner, travel)


_STAYS, _FIXED, _RESETS = Travel.STAYS, Travel.FIXED, Travel.RESETS

#: The per-agent arrays every run has: the people and the arrays the layers exchange (always present,
#: because the contact and disease kernels read them whether or not the component that writes them
#: runs). Bytes per agent = sum of item sizes (see :func:`bytes_per_agent`). A component adds
#: arrays of its own through its ``states`` declaration (see :mod:`zerosim.engine.component`).
AGENT_SCHEMA: tuple[ArraySpec, ...] = (
    # -- who and where (population layer, written once at build) --
    _spec("age", "uint8", 0, "age in whole years (0-100)", travel=_FIXED),
    _spec("sex", "int8", 0, "Sex code", travel=_FIXED),
    _spec("household_id", "int32", 0, "household index; households are contiguous agent ranges", travel=_STAYS),
    _spec("building_id", "int32", 0, "residential building index (contiguous)", travel=_STAYS),
    _spec("compound_id", "int32", 0, "residential compound (小区) index (contiguous)", travel=_STAYS),
    _spec("subdistrict_id", "int16", 0, "subdistrict / town (街道/镇) index (contiguous)", travel=_STAYS),
    _spec("district_id", "int8", 0, "district (区) index (contiguous)", travel=_STAYS),
    _spec("workplace_id", "int32", NO_GROUP, "workplace index, -1 if the agent does not work", travel=_STAYS),
    _spec("school_id", "int32", NO_GROUP, "school or kindergarten index, -1 if not a pupil", travel=_STAYS),
    _spec("sector", "int8", 0, "Sector code: work sector or school type", travel=_STAYS),
    _spec("vaccine_doses", "int8", 0, "vaccine doses received (0-3)", travel=_FIXED),
    _spec("day_last_dose", "int16", -32768, "day of the last dose relative to day 0 (negative = before)", travel=_FIXED),
    # -- disease layer --
    _spec("compartment", "int8", 0, "Compartment code", "disease"),
    _spec("day_infected", "int16", NEVER, "day of infection, -1 if never infected", "transmission"),
    _spec("infected_by", "int32", NO_GROUP, "index of the infector, -1 for seeds and the uninfected", "transmission",
          _RESETS),
    _spec("day_viral_detectable", "int16", NEVER, "first day viral load reaches the PCR limit of detection", "disease"),
    _spec("day_viral_peak", "int16", NEVER, "day of peak viral load", "disease"),
    _spec("day_viral_clear", "int16", NEVER, "day viral load falls back to the limit of detection", "disease"),
    _spec("viral_peak_log10", "float32", 0.0, "peak viral load, log10 copies/mL", "disease"),
    # -- what policy and behaviour set; the contact layers only read these --
    _spec("mobility", "int8", 0, "Mobility code: how far the agent may go today", "confinement", _RESETS),
    _spec("facility_id", "int32", NO_GROUP, "centralized facility the agent is in, -1 if none", "confinement", _RESETS),
    _spec("health_code", "int8", 0, "HealthCode colour", "health_code"),
    # -- policy layer: testing, isolation, tracing --
    _spec("day_swab_requested", "int16", NEVER, "day a mass-testing swab was requested and not yet taken", "testing",
          _RESETS),
    _spec("swab_pool_size", "int8", 1, "pool size (samples per tube) of the pending campaign swab request", "testing",
          _RESETS),
    _spec("day_last_swab", "int16", NEVER, "day of the last swab taken", "testing"),
    _spec("test_result", "int8", 0, "TestResult: latest known PCR result", "testing"),
    _spec("day_last_result", "int16", NEVER, "day the latest result came back", "testing"),
    _spec("consecutive_negatives", "int8", 0, "negative results in a row since the last positive (capped at 127)",
          "testing"),
    _spec("day_detected", "int16", NEVER, "day first reported positive (true or false positive), -1 if never",
          "testing"),
    _spec("is_community_case", "int8", 0,
          "1 if detected outside quarantine and outside sealed/controlled zones (a community case); 2 if detected "
          "at home in a sealed or controlled compound (not in central quarantine); else 0", "testing"),
    _spec("isolation_status", "int8", 0, "IsolationStatus", "isolation"),
    _spec("day_isolation_change", "int16", NEVER, "day of the last isolation status change", "isolation"),
    _spec("quarantine_status", "int8", 0, "QuarantineStatus", "tracing"),
    _spec("day_quarantine_start", "int16", NEVER, "first day of the current quarantine phase", "tracing"),
    _spec("day_quarantine_end", "int16", NEVER, "last day of the current quarantine phase", "tracing"),
    # -- behaviour layer --
    _spec("is_compliant_today", "int8", 1, "1 if the agent keeps to its confinement and testing today", "behaviour",
          _RESETS),
    # -- ledger layer --
    _spec("worker_type", "int8", 0, "WorkerType of a worker (formal, informal, gig, self-employed)", "ledger",
          _STAYS),
    _spec("confined_streak_days", "int16", 0, "current unbroken days confined (compound, home or facility)", "ledger"),
    _spec("longest_confinement_days", "int16", 0, "longest unbroken confinement so far, days", "ledger"),
    _spec("confined_days_total", "int16", 0, "days confined so far (any level)", "ledger"),
    _spec("ledger_flags", "int8", 0, "bit 0: ever kept confined after >= 10 consecutive negative tests", "ledger"),
)

SCHEMA_BY_NAME: dict[str, ArraySpec] = {spec.name: spec for spec in AGENT_SCHEMA}


def bytes_per_agent() -> int:
    """State bytes per agent from the schema (group indexes excluded; see :meth:`PopulationState.nbytes`)."""
    return sum(spec.dtype.itemsize for spec in AGENT_SCHEMA)


@dataclass(slots=True)
class GroupIndex:
    """Membership of the non-agent units.

    Residential units are contiguous agent ranges: ``*_start`` arrays have length units + 1 (int64).
    Workplaces and schools use CSR: ``*_offsets`` (int64, units + 1) into ``*_members`` (int32).
    """

    household_start: np.ndarray
    building_start: np.ndarray
    compound_start: np.ndarray
    subdistrict_start: np.ndarray
    district_start: np.ndarray
    workplace_offsets: np.ndarray
    workplace_members: np.ndarray
    workplace_sector: np.ndarray  # int8 Sector per workplace
    workplace_district: np.ndarray  # int8 district per workplace
    school_offsets: np.ndarray
    school_members: np.ndarray
    school_sector: np.ndarray  # int8 Sector per school (school type)
    compound_subdistrict: np.ndarray  # int16 subdistrict of each compound
    subdistrict_district: np.ndarray  # int8 district of each subdistrict

    @property
    def household_count(self) -> int:
        return self.household_start.size - 1

    @property
    def building_count(self) -> int:
        return self.building_start.size - 1

    @property
    def compound_count(self) -> int:
        return self.compound_start.size - 1

    @property
    def subdistrict_count(self) -> int:
        return self.subdistrict_start.size - 1

    @property
    def district_count(self) -> int:
        return self.district_start.size - 1

    @property
    def workplace_count(self) -> int:
        return self.workplace_offsets.size - 1

    @property
    def school_count(self) -> int:
        return self.school_offsets.size - 1

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.__slots__)


class PopulationState:
    """All mutable per-agent data of a run, one NumPy array per schema row, plus group indexes.

    Access arrays as attributes (``state.compartment``). Per-unit arrays (e.g. ``is_open`` per
    workplace) are added by :meth:`add_unit_array` at build time, never during the daily loop.

    Attributes
    ----------
    size : int
        Number of agents.
    groups : GroupIndex
        Residential ranges and workplace / school memberships.
    district_names : tuple[str, ...]
        English names of the districts, indexed by ``district_id``.

    Parameters
    ----------
    size, groups, district_names
        As the attributes above.
    filled : dict[str, np.ndarray], optional
        Schema arrays that are already filled in, each of shape (size,) and its schema dtype; they
        are adopted without a copy (the population build passes the arrays it wrote, so that the
        city never exists twice). Every other schema array is allocated with its fill value.
    """

    def __init__(
        self,
        size: int,
        groups: GroupIndex,
        district_names: tuple[str, ...],
        filled: dict[str, np.ndarray] | None = None,
    ):
        self.size = int(size)
        self.groups = groups
        self.district_names = tuple(district_names)
        filled = filled or {}
        unknown = sorted(set(filled) - set(SCHEMA_BY_NAME))
        if unknown:
            raise ValueError(f"filled: {unknown[0]!r} is not in AGENT_SCHEMA; declare it there first")
        self.arrays: dict[str, np.ndarray] = {}
        for spec in AGENT_SCHEMA:
            array = filled.get(spec.name)
            if array is None:
                array = np.full(self.size, spec.fill, dtype=spec.dtype)
            elif array.dtype != spec.dtype or array.shape != (self.size,) or not array.flags.c_contiguous:
                raise ValueError(
                    f"filled[{spec.name!r}]: expected a contiguous {spec.dtype} array of shape ({self.size},), "
                    f"got {array.dtype} {array.shape}; convert it first"
                )
            self.arrays[spec.name] = array
        #: Spec of every per-agent array of this state: the base schema, then what components declared.
        self.schema: dict[str, ArraySpec] = dict(SCHEMA_BY_NAME)
        self.unit_arrays: dict[str, np.ndarray] = {
            "workplace_is_open": np.ones(groups.workplace_count, dtype=np.int8),
            "school_is_open": np.ones(groups.school_count, dtype=np.int8),
            # compartment counts kept up to date by the disease layer (no daily O(N) recount)
            "count_by_district": np.zeros((groups.district_count, COMPARTMENT_COUNT), dtype=np.int64),
            "count_by_age_band": np.zeros((AGE_BAND_COUNT, COMPARTMENT_COUNT), dtype=np.int64),
            "entered_by_district": np.zeros((groups.district_count, COMPARTMENT_COUNT), dtype=np.int64),
        }
        self.events = DayEvents(self.size)
        #: Mean residents of a district and of a subdistrict in the real city this one scales down
        #: ({"district": ..., "subdistrict": ...}; empty when unknown). Rules that act on a unit use it to
        #: keep the unit's real size in a reduced-scale run (see zerosim.policy.zoning.zone_neighbourhoods).
        self.real_residents: dict[str, float] = {}
        #: Component-owned mutable structures that are not arrays (e.g. the lab queue, the zone
        #: event log). Added at setup, declared in reads/writes like arrays.
        self.stores: dict[str, object] = {}

    def __getattr__(self, name: str) -> np.ndarray:
        # Only called when normal lookup fails: expose schema arrays as attributes.
        try:
            arrays = object.__getattribute__(self, "arrays")
            if name in arrays:
                return arrays[name]
            units = object.__getattribute__(self, "unit_arrays")
            if name in units:
                return units[name]
            return object.__getattribute__(self, "stores")[name]
        except KeyError:
            raise AttributeError(f"PopulationState has no array {name!r}") from None

    def add_unit_array(self, name: str, array: np.ndarray) -> None:
        """Register a per-unit array (e.g. one value per compound). Build time only."""
        if name in self.arrays or name in self.unit_arrays:
            raise ValueError(f"state array {name!r} already exists")
        self.unit_arrays[name] = array

    def declare(self, specs, by: str = "a component") -> None:
        """Add the per-agent arrays in ``specs`` (allocated at their fill value), before the daily loop.

        Declaring an array that exists with the same dtype and fill is a no-op (two runs of one
        component kind share it); the same name with another dtype or fill raises ValueError.
        """
        for spec in specs:
            known = self.schema.get(spec.name)
            if known is not None:
                if (known.dtype, known.fill) != (spec.dtype, spec.fill):
                    raise ValueError(f"state array {spec.name!r} declared by {by} as {spec.dtype} (fill {spec.fill}) "
                                     f"already exists as {known.dtype} (fill {known.fill}); rename it")
                continue
            if spec.name in self.unit_arrays or spec.name in self.stores or spec.name in type(self).__dict__:
                raise ValueError(f"state array {spec.name!r} declared by {by} clashes with an existing name; rename it")
            self.arrays[spec.name] = np.full(self.size, spec.fill, dtype=spec.dtype)
            self.schema[spec.name] = spec

    def travel_columns(self, travel: Travel | None = None) -> tuple[str, ...]:
        """Per-agent arrays that move with a person between cities, in schema order (``travel`` picks one kind)."""
        kinds = (Travel.WITH_PERSON, Travel.FIXED) if travel is None else (travel,)
        return tuple(name for name, spec in self.schema.items() if spec.travel in kinds)

    def has_array(self, name: str) -> bool:
        return name in self.arrays or name in self.unit_arrays or name in self.stores

    def nbytes(self) -> int:
        """Bytes held by the state, group indexes included."""
        per_agent = sum(a.nbytes for a in self.arrays.values())
        return per_agent + sum(a.nbytes for a in self.unit_arrays.values()) + self.groups.nbytes()

    @property
    def district_count(self) -> int:
        return self.groups.district_count


@dataclass(slots=True)
class DayEvents:
    """Per-day event buffers, preallocated: today's new infections (agent ids) and their count.

    The transmission layer appends to it; the disease layer consumes it the same day.
    """

    capacity: int
    new_infected: np.ndarray = field(init=False)
    new_infected_count: int = 0

    def __post_init__(self) -> None:
        self.new_infected = np.empty(max(self.capacity, 1), dtype=np.int32)
