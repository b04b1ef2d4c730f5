"""Policy layer: contact tracing and quarantine -- close contacts of each new case to centralized
quarantine hotels (then home), secondary contacts to home quarantine.

Layer ``policy`` -- imports population codes and the engine protocol only. Close contacts are the
case's household, a share of its building, colleagues or classmates, and the people it actually
infected (the transmission kernel's ``infected_by`` links) found with ``coverage_fraction``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Phase
from zerosim.engine.invariants import require
from zerosim.policy.config import TracingConfig
from zerosim.policy.isolation import agents_with_code, detected_on, scaled_capacity
from zerosim.population.kernels import count_codes
from zerosim.population.state import NEVER, Compartment, IsolationStatus, PopulationState, QuarantineStatus


def quarantined(state: PopulationState, status: int | None = None) -> np.ndarray:
    """Agents with a quarantine status (any, or exactly ``status``), one fast pass."""
    return agents_with_code(state, state.quarantine_status, status)


def _ranges(starts: np.ndarray, units: np.ndarray) -> np.ndarray:
    """All agent indices of the contiguous units ``units`` (offsets ``starts``), concatenated."""
    if units.size == 0:
        return np.zeros(0, dtype=np.int64)
    lo = starts[units]
    sizes = starts[units + 1] - lo
    base = np.repeat(lo - np.concatenate(([0], np.cumsum(sizes)[:-1])), sizes)
    return base + np.arange(sizes.sum())


def _sample_members(offsets: np.ndarray, members: np.ndarray, units: np.ndarray, per_unit: int, rng) -> np.ndarray:
    """Up to ``per_unit`` random members of each CSR unit in ``units`` (with replacement)."""
    units = units[units >= 0]
    if units.size == 0 or per_unit == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = offsets[units + 1] - offsets[units]
    units, sizes = units[sizes > 0], sizes[sizes > 0]
    picks = offsets[np.repeat(units, per_unit)] + (rng.random(units.size * per_unit) * np.repeat(sizes, per_unit)).astype(np.int64)
    return members[picks].astype(np.int64)


#: The per-agent arrays :func:`set_quarantine` writes (all the tracing layer's own).
QUARANTINE_ARRAYS = frozenset({"quarantine_status", "day_quarantine_start", "day_quarantine_end"})


def set_quarantine(state: PopulationState, rows: np.ndarray, status: int | None = None, *,
                   first_day: int | np.ndarray | None = None, last_day: int | np.ndarray | None = None) -> None:
    """Put ``rows`` in quarantine ``status`` (QuarantineStatus; NONE releases them) and/or set the first
    and last day of their current quarantine phase; None leaves a field as it is.

    Call it through :meth:`Tracing.set_quarantine` when a Tracing component runs; directly only from
    a component that stands in for tracing (``stands_in_for``) in a run without one.
    """
    if status is not None:
        state.quarantine_status[rows] = status
    if first_day is not None:
        state.day_quarantine_start[rows] = first_day
    if last_day is not None:
        state.day_quarantine_end[rows] = last_day


@dataclass(frozen=True, slots=True)
class Tracing:
    """Finds close and secondary contacts of new cases and runs their quarantine."""

    kind: ClassVar[str] = "tracing"

    @staticmethod
    def switched_on(containment) -> bool:
        return containment.tracing.enabled

    @classmethod
    def from_containment(cls, containment, disease) -> Tracing:
        return cls(config=containment.tracing)

    config: TracingConfig
    name: str = "tracing"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset(
        {"day_detected", "isolation_status", "compartment", "household_id", "building_id", "workplace_id",
         "school_id", "infected_by", "day_infected"}
    )
    writes: ClassVar[frozenset[str]] = frozenset(
        {"quarantine_status", "day_quarantine_start", "day_quarantine_end", "tracing_counts"}
    )

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        if not state.has_array("tracing_counts"):
            # [close contacts today, secondary contacts today]
            state.add_unit_array("tracing_counts", np.zeros(2, dtype=np.int64))

    def close_contacts(self, state: PopulationState, cases: np.ndarray, day: int, rng) -> np.ndarray:
        """Close contacts of ``cases`` (agent indices), without the cases themselves, unique."""
        cfg = self.config
        g = state.groups
        parts = []
        if cfg.household:
            parts.append(_ranges(g.household_start, state.household_id[cases].astype(np.int64)))
        if cfg.building_fraction > 0:
            neighbours = _ranges(g.building_start, np.unique(state.building_id[cases]).astype(np.int64))
            parts.append(neighbours[rng.random(neighbours.size) < cfg.building_fraction])
        parts.append(_sample_members(g.workplace_offsets, g.workplace_members, state.workplace_id[cases].astype(np.int64),
                                     cfg.workplace_contacts, rng))
        parts.append(_sample_members(g.school_offsets, g.school_members, state.school_id[cases].astype(np.int64),
                                     cfg.workplace_contacts, rng))
        # People the cases actually infected in the last 14 days (found with coverage).
        recent = np.flatnonzero(state.day_infected >= max(day - 14, 0))
        is_case = np.zeros(state.size, dtype=bool)
        is_case[cases] = True
        by = state.infected_by[recent]
        infectees = recent[(by >= 0) & is_case[np.maximum(by, 0)]]
        parts.append(infectees[rng.random(infectees.size) < cfg.coverage_fraction])
        contacts = np.unique(np.concatenate(parts))
        return contacts[~is_case[contacts]]

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        cfg = self.config
        status = state.quarantine_status
        start = state.day_quarantine_start
        end = state.day_quarantine_end
        counts = state.tracing_counts
        counts[:] = 0
        if not cfg.enabled:  # switched off by a policy timeline: nobody is quarantined any more
            status[quarantined(state)] = QuarantineStatus.NONE
            return
        # Cases leave quarantine for case handling; the dead leave it too.
        live = quarantined(state)
        leaving = live[(state.isolation_status[live] != IsolationStatus.NONE) | (state.compartment[live] == Compartment.DEAD)]
        status[leaving] = QuarantineStatus.NONE
        # New cases' contacts.
        cases = detected_on(state, day)
        if cases.size:
            contacts = self.close_contacts(state, cases, day, rng)
            eligible = contacts[
                (state.isolation_status[contacts] == IsolationStatus.NONE)
                & (state.compartment[contacts] != Compartment.DEAD)
                & (status[contacts] != QuarantineStatus.CENTRAL)
                & (status[contacts] != QuarantineStatus.WAITING_ROOM)
                & (status[contacts] != QuarantineStatus.PENDING)
            ]
            status[eligible] = QuarantineStatus.PENDING
            start[eligible] = day + cfg.delay_days
            end[eligible] = NEVER
            counts[0] = eligible.size
            if cfg.secondary_contacts and eligible.size:
                households = np.unique(state.household_id[eligible]).astype(np.int64)
                secondary = _ranges(state.groups.household_start, households)
                secondary = secondary[
                    (status[secondary] == QuarantineStatus.NONE)
                    & (state.isolation_status[secondary] == IsolationStatus.NONE)
                    & (state.compartment[secondary] != Compartment.DEAD)
                ]
                status[secondary] = QuarantineStatus.HOME
                start[secondary] = day + cfg.delay_days
                end[secondary] = day + cfg.delay_days + cfg.secondary_home_days - 1
                counts[1] = secondary.size
        # Phase changes: central -> home -> free (on everyone with a status, found in one pass).
        live = quarantined(state)
        central = live[(status[live] == QuarantineStatus.CENTRAL) & (day > end[live])]
        if cfg.home_days:
            # day_quarantine_start keeps the first day of quarantine (test days count from it)
            status[central] = QuarantineStatus.HOME
            end[central] = day + cfg.home_days - 1
        else:
            status[central] = QuarantineStatus.NONE
        home_done = live[(status[live] == QuarantineStatus.HOME) & (day > end[live])]
        status[home_done] = QuarantineStatus.NONE
        # A contact who waited at home for a room the whole time the quarantine would have lasted is free
        # (ASSUMPTION, docs/policies.md 3: the wait stands for the quarantine; no source for how Shanghai's
        # un-transferred contacts of April 2022 were released, but not never).
        waited = live[(status[live] == QuarantineStatus.WAITING_ROOM) & (day > end[live])]
        status[waited] = QuarantineStatus.NONE
        # Pick-up of contacts due today, and of those waiting for a room, oldest first.
        due = live[((status[live] == QuarantineStatus.PENDING) & (start[live] <= day))
                   | (status[live] == QuarantineStatus.WAITING_ROOM)]
        if due.size:
            due = due[np.lexsort((due, start[due]))]
            rooms = scaled_capacity(cfg.rooms_per_100k, state.size)
            admitted = due
            if rooms is not None:
                free = max(rooms - int((status[live] == QuarantineStatus.CENTRAL).sum()), 0)
                admitted = due[:free]
            rest = due[admitted.size :]
            if cfg.central_days:
                status[admitted] = QuarantineStatus.CENTRAL
                start[admitted] = day
                end[admitted] = day + cfg.central_days - 1
            else:
                status[admitted] = QuarantineStatus.HOME
                start[admitted] = day
                end[admitted] = day + max(cfg.home_days, 1) - 1
            newly_waiting = rest[status[rest] == QuarantineStatus.PENDING]
            end[newly_waiting] = start[newly_waiting] + cfg.central_days + cfg.home_days - 1
            status[rest] = QuarantineStatus.WAITING_ROOM

    def set_quarantine(self, state: PopulationState, rows: np.ndarray, status: int | None = None, *,
                       first_day: int | np.ndarray | None = None, last_day: int | np.ndarray | None = None) -> None:
        """Quarantine decided elsewhere (the region's arrival quarantine): see :func:`set_quarantine`.
        The daily step then treats these people like traced contacts (phase changes, release)."""
        set_quarantine(state, rows, status, first_day=first_day, last_day=last_day)

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        counts = count_codes(state.quarantine_status, len(QuarantineStatus))
        at_home = quarantined(state, QuarantineStatus.HOME)
        home = int((state.day_quarantine_start[at_home] <= day).sum())
        return {
            "in_quarantine": float(counts[QuarantineStatus.CENTRAL] + home),
            "in_central_quarantine": float(counts[QuarantineStatus.CENTRAL]),
            "in_home_quarantine": float(home),
            "waiting_for_room": float(counts[QuarantineStatus.WAITING_ROOM]),
            "close_contacts_traced": float(state.tracing_counts[0]),
            "secondary_contacts_traced": float(state.tracing_counts[1]),
        }

    def check(self, state: PopulationState, day: int) -> None:
        """Check mode: codes within QuarantineStatus, and no admission to full quarantine hotels (above
        the rooms only when a timeline cut them, and then nobody is admitted)."""
        status = state.quarantine_status
        high = int(status.max(initial=0))
        require(int(status.min(initial=0)) >= 0 and high < len(QuarantineStatus), "quarantine_status_codes", day,
                f"quarantine_status code {high}, valid 0..{len(QuarantineStatus) - 1}")
        rooms = scaled_capacity(self.config.rooms_per_100k, state.size)
        if rooms is None or not self.config.enabled:
            return
        central = quarantined(state, QuarantineStatus.CENTRAL)
        admitted = int((state.day_quarantine_start[central] == day).sum())
        require(central.size <= rooms or admitted == 0, "quarantine_rooms", day,
                f"{central.size} in central quarantine against {rooms} rooms, {admitted} admitted today")
