"""Transmission layer: the component that seeds infections and draws each day's new ones.

Layer ``transmission`` -- imports ``population``, ``disease`` and the engine protocol only.
It reads each agent's mobility, facility and health code, which policies set: confining people
needs no change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from zerosim.disease.components import InfectedAgents
from zerosim.disease.config import DiseaseConfig
from zerosim.disease.kernels import COURSE_LAST_INFECTIOUS
from zerosim.engine.component import Phase
from zerosim.engine.rng import kernel_seed
from zerosim.population.kernels import threads_for
from zerosim.population.state import NO_GROUP, Mobility, PopulationState
from zerosim.transmission.config import SeedingConfig, TransmissionConfig
from zerosim.transmission.kernels import (
    LAYER_NAMES,
    ContactRules,
    People,
    Places,
    Spreaders,
    facility_index,
    member_band_counts,
    transmit,
    waning_table,
)

#: Days since the last dose covered by the waning table (later doses: computed per contact).
WANING_TABLE_DAYS = 4096

#: How far an agent may be confined and still take part in each layer (both ends of a contact).
MAX_MOBILITY_BY_LAYER: dict[str, Mobility] = {
    "household": Mobility.HOME,
    "building": Mobility.COMPOUND,
    "compound": Mobility.COMPOUND,
    "workplace": Mobility.FREE,
    "school": Mobility.FREE,
    "community": Mobility.FREE,
    "citywide": Mobility.FREE,
    "facility": Mobility.FACILITY,
}
#: Layers whose contacts need a green health code (outside the compound).
GREEN_CODE_LAYERS = frozenset({"workplace", "school", "community", "citywide"})


#: The store of per-layer contact multipliers that components other than Closures own (see add_contact_factor).
CONTACT_FACTORS = "contact_factors"


def add_contact_factor(state: PopulationState, owner: str) -> np.ndarray:
    """A per-layer multiplier on contacts (index by :data:`LAYER_NAMES`; 1 = unchanged) owned by the component
    ``owner``, which alone writes it (declare ``f"contact_factor/{owner}"`` in its ``writes``). Transmission
    multiplies every layer's rate by all such factors each day. Call it in ``setup``.

    This is how a component from another package changes contacts (masks, distancing, ventilation)
    without editing zerosim: it owns its factor, and the transmission layer reads them all.
    """
    name = f"contact_factor/{owner}"
    factor = np.ones(len(LAYER_NAMES), dtype=np.float64)
    state.add_unit_array(name, factor)
    state.stores.setdefault(CONTACT_FACTORS, {})[name] = factor
    return factor


def layer_rates(config: TransmissionConfig, disease: DiseaseConfig, state: PopulationState) -> np.ndarray:
    """Per-layer rate of infectious contacts per unit of viral weight: beta x contacts x relative.

    beta is set so that an average agent, in a fully susceptible, unvaccinated and unconfined
    population, causes ``r0`` infections over its course (repeat contacts in small groups not
    discounted): r0 = beta * sum_L contacts_L * relative_L * (share of agents in layer L) * (mean
    susceptibility of layer L's members). In well-mixed mode this makes r0 exact.
    """
    layers = config.resolved_layers()
    r0 = config.r0 if config.r0 is not None else disease.r0
    susceptibility = np.asarray(config.resolved_susceptibility())
    # Per age band counts of each layer's members, in one pass (no per-agent temporaries).
    bands = susceptibility.size
    counted = member_band_counts(state.age, bands, state.groups.household_start, state.workplace_id, state.school_id)
    everyone = counted[0]
    members = {"household": counted[1], "workplace": counted[2], "school": counted[3]}
    raw = np.zeros(len(LAYER_NAMES))
    expected = 0.0
    for index, name in enumerate(LAYER_NAMES):
        layer = layers[name]
        raw[index] = layer.contacts_per_day * layer.relative_transmissibility
        if name == "facility":
            continue  # nobody is in a facility at the start (policies crowd them later)
        counts = members.get(name, everyone)
        if counts.sum() == 0:
            continue
        share = counts.sum() / state.size
        mean_susceptibility = float((counts * susceptibility).sum() / counts.sum())
        expected += raw[index] * share * mean_susceptibility
    if expected <= 0:
        return raw * 0.0
    return raw * (r0 / expected)


def home_contacts(config: TransmissionConfig) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: the most confined mobility that takes part, and the factor on the rate of an agent
    confined at HOME where it still does (0: not at all; the household layer: 1). Sealed residents
    keep ``sealed_contacts_per_day`` contacts in their building (stairwells, lifts, volunteers)
    instead of the layer's usual count, and ``test_queue_contacts`` in the compound on a day they
    queue for a swab."""
    max_mobility = np.array([MAX_MOBILITY_BY_LAYER[name] for name in LAYER_NAMES], dtype=np.int8)
    home_factor = np.zeros(len(LAYER_NAMES), dtype=np.float64)
    home_factor[LAYER_NAMES.index("household")] = 1.0
    layers = config.resolved_layers()
    for name, kept in (("building", config.sealed_contacts_per_day), ("compound", config.test_queue_contacts)):
        usual = layers[name].contacts_per_day
        if kept and usual > 0:
            home_factor[LAYER_NAMES.index(name)] = min(1.0, kept / usual)
    return max_mobility, home_factor


@dataclass(slots=True)
class Transmission:
    """Seeds infections and draws new ones through the contact layers each day."""

    kind: ClassVar[str] = "transmission"

    config: TransmissionConfig
    disease: DiseaseConfig
    seeding: tuple[SeedingConfig, ...] = ()
    name: str = "transmission"
    phase: ClassVar[Phase] = Phase.TRANSMISSION
    reads: ClassVar[frozenset[str]] = frozenset(
        {
            "compartment", "active_agents", "day_viral_detectable", "day_viral_peak", "day_viral_clear", "viral_peak_log10",
            "mobility", "health_code", "age", "vaccine_doses", "day_last_dose",
            "household_id", "building_id", "compound_id", "subdistrict_id", "district_id", "workplace_id",
            "school_id", "facility_id", "workplace_is_open", "day_last_swab", "school_is_open", "facility_contact_scale", "layer_contact_scale",
        }
    )
    writes: ClassVar[frozenset[str]] = frozenset({"day_infected", "infected_by"})
    _rate: np.ndarray = field(init=False, repr=False, default=None)
    _max_mobility: np.ndarray = field(init=False, repr=False, default=None)
    _home_factor: np.ndarray = field(init=False, repr=False, default=None)
    _by_layer: np.ndarray = field(init=False, repr=False, default=None)
    _waning: np.ndarray = field(init=False, repr=False, default=None)
    _requires_green: np.ndarray = field(init=False, repr=False, default=None)
    _susceptibility: np.ndarray = field(init=False, repr=False, default=None)

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        if not state.has_array("facility_contact_scale"):
            # No policy runs facilities: the per-facility crowding scale is 1 (see the facility layer).
            state.add_unit_array("facility_contact_scale", np.ones(0, dtype=np.float32))
        if not state.has_array("layer_contact_scale"):
            # Per-layer multiplier policies may lower (e.g. public transport suspended): 1 = unchanged.
            state.add_unit_array("layer_contact_scale", np.ones(len(LAYER_NAMES), dtype=np.float64))
        self._rate = layer_rates(self.config, self.disease, state)
        self._max_mobility, self._home_factor = home_contacts(self.config)
        self._by_layer = np.zeros(len(LAYER_NAMES), dtype=np.int64)
        self._waning = waning_table(WANING_TABLE_DAYS, float(self.disease.vaccine.waning_half_life_days))
        self._requires_green = np.array([name in GREEN_CODE_LAYERS for name in LAYER_NAMES], dtype=np.bool_)
        self._susceptibility = np.asarray(self.config.resolved_susceptibility(), dtype=np.float64)

    def use_contact_rates(self, rates: np.ndarray) -> None:
        """Use these per-layer contact rates (from :func:`layer_rates`) instead of those ``setup`` derived
        from the state: a region derives them from a city's residents before adding visitor slots."""
        self._rate = rates

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        events = state.events
        events.new_infected_count = 0
        self._by_layer[:] = 0
        active: InfectedAgents = state.stores["active_agents"]  # the infected, with their infectiousness
        for seeding in self.seeding:
            if seeding.day == day:
                self._seed(state, seeding, day, rng)
            elif (seeding.until_established_day is not None and seeding.day < day <= seeding.until_established_day
                  and events.new_infected_count == 0 and not _anyone_can_still_infect(active, day)):
                self._seed(state, seeding, day, rng)  # the introduced chains died out: another introduction
        if active.count == 0:
            return
        facility_offsets, facility_members = _facility_index(state)
        vaccine = self.disease.vaccine
        g = state.groups
        with threads_for(active.count, minimum=5_000):
            events.new_infected_count = transmit(
                day,
                kernel_seed(rng),
                Spreaders(active.ids, int(active.count), active.scale, active.course,
                          bool(self.config.hospitalised_transmit),
                          float(self.disease.viral_load.detection_limit_log10),
                          float(self.disease.viral_load.infectious_threshold_log10)),
                ContactRules(self._day_rate(state), self._max_mobility, self._home_factor, self._requires_green),
                People(state.compartment, state.day_viral_detectable, state.day_viral_peak, state.day_viral_clear,
                       state.viral_peak_log10, state.mobility, state.health_code, state.day_last_swab,
                       state.day_infected, state.infected_by, state.age, state.vaccine_doses, state.day_last_dose,
                       self._susceptibility, np.asarray(vaccine.infection_effectiveness, dtype=np.float64),
                       float(vaccine.waning_half_life_days), self._waning),
                Places(state.household_id, g.household_start, state.building_id, g.building_start, state.compound_id,
                       g.compound_start, state.subdistrict_id, g.subdistrict_start, state.workplace_id,
                       g.workplace_offsets, g.workplace_members, state.workplace_is_open, state.school_id,
                       g.school_offsets, g.school_members, state.school_is_open, state.facility_id, facility_offsets,
                       facility_members, state.facility_contact_scale),
                events.new_infected,
                events.new_infected_count,
                self._by_layer,
            )

    def record_outside_infections(self, state: PopulationState, rows: np.ndarray, day: int) -> None:
        """Record that ``rows`` were infected on ``day`` outside this population (people arriving from
        outside the region): no infector here. Their course is the disease layer's
        (``NaturalHistory.infect``)."""
        state.day_infected[rows] = day
        state.infected_by[rows] = NO_GROUP

    def _day_rate(self, state: PopulationState) -> np.ndarray:
        """Today's per-layer rates: the calibrated rates times Closures' scale and every other component's factor."""
        rate = self._rate * state.layer_contact_scale
        for factor in state.stores.get(CONTACT_FACTORS, {}).values():
            rate = rate * factor
        return rate

    def _seed(self, state: PopulationState, seeding: SeedingConfig, day: int, rng: np.random.Generator) -> None:
        if seeding.district is None:
            lo, hi = 0, state.size
        else:
            index = [name.lower() for name in state.district_names].index(seeding.district.lower())
            lo, hi = state.groups.district_start[index], state.groups.district_start[index + 1]
        count = seeding.resolved_count(state.size)
        candidates = lo + rng.choice(hi - lo, size=min(hi - lo, 4 * count + 16), replace=False)
        candidates = candidates[state.day_infected[candidates] < 0][:count]
        events = state.events
        start = events.new_infected_count
        state.day_infected[candidates] = day
        state.infected_by[candidates] = NO_GROUP
        events.new_infected[start : start + candidates.size] = candidates
        events.new_infected_count = start + candidates.size

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        return {f"new_infections_{name}": float(self._by_layer[k]) for k, name in enumerate(LAYER_NAMES)}


def _anyone_can_still_infect(active: InfectedAgents, day: int) -> bool:
    """Whether an infected agent's infectious days (``COURSE_LAST_INFECTIOUS``) reach ``day`` or later:
    if none does, every chain has ended, though its last agents may not have recovered yet."""
    return bool(active.count) and bool((active.course[: active.count, COURSE_LAST_INFECTIOUS] >= day).any())


def _facility_index(state: PopulationState) -> tuple[np.ndarray, np.ndarray]:
    """CSR of today's facility residents: offsets over facility ids 0..max, members sorted by id."""
    if state.facility_contact_scale.size == 0:  # no policy runs facilities
        return np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32)
    return facility_index(state.mobility, state.facility_id, np.int8(Mobility.FACILITY))
