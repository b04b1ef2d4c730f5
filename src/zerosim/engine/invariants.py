"""Engine layer: the invariant-checking mode, switched on by ``ZEROSIM_CHECK=1`` or ``zerosim run --check``.

Layer ``engine`` -- imports numpy, ``zerosim.errors`` and the population state only; it names no
particular component. In check mode the :class:`~zerosim.engine.simulation.Simulation` calls
:meth:`InvariantChecker.check` after every day (after the components' reports). It checks what
holds for any run -- the people are the same people, codes stay within their enums, nobody dead
comes back -- and then calls ``check(state, day)`` on every component that has one: each
component checks what it owns (the disease layer its compartment counts, isolation its beds, the
lab its backlog...). The checks only read the state, so a run gives the same results with and
without them; they cost one or two passes over the population a day.

A broken invariant raises a one-line :class:`~zerosim.errors.StateError` (exit code 3) naming the
invariant, the day and the numbers: ``invariant <name> broken on day <d>: <numbers>``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from numba import njit

from zerosim.errors import StateError
from zerosim.population.state import AGENT_SCHEMA, Compartment, Mobility, PopulationState

#: The environment variable that switches check mode on (any value but "", "0", "false", "no", "off").
CHECK_ENV = "ZEROSIM_CHECK"


def check_mode_enabled() -> bool:
    """True when ``ZEROSIM_CHECK`` asks for the daily invariant checks."""
    return os.environ.get(CHECK_ENV, "").strip().lower() not in ("", "0", "false", "no", "off")


def broken(invariant: str, day: int, numbers: str) -> StateError:
    """The one-line error of a broken invariant (its ``invariant`` attribute names it)."""
    error = StateError(f"invariant {invariant} broken on day {day}: {numbers}; this is a bug, please report it "
                       "with the scenario and seed")
    error.invariant = invariant
    return error


def require(holds: bool, invariant: str, day: int, numbers: str) -> None:
    """Raise :func:`broken` unless ``holds``."""
    if not holds:
        raise broken(invariant, day, numbers)


def require_equal(got: np.ndarray, expected: np.ndarray, invariant: str, day: int, what: str) -> None:
    """Raise unless the arrays are equal; the message gives the first differing entry, e.g.
    ``count_by_district[3, 1] is 41, a recount gives 40``."""
    got, expected = np.asarray(got), np.asarray(expected)
    if got.shape != expected.shape:
        raise broken(invariant, day, f"{what} has shape {got.shape}, expected {expected.shape}")
    differ = np.argwhere(got != expected)
    if differ.size:
        at = tuple(int(i) for i in differ[0])
        where = ", ".join(map(str, at))
        raise broken(invariant, day, f"{what}[{where}] is {got[at]}, expected {expected[at]} "
                                     f"({len(differ)} entries differ)")


class InvariantChecker:
    """The daily checks of check mode. Holds what it must remember between days (who was dead)."""

    def __init__(self) -> None:
        self._dead: np.ndarray | None = None
        #: invariant name -> why the code driving this run does not keep it (see :meth:`waive`)
        self.waived: dict[str, str] = {}

    def waive(self, invariant: str, reason: str) -> None:
        """Stop checking ``invariant`` in this run, for ``reason``: for code that knowingly breaks it
        (and says so where it calls this), never to silence a failure."""
        self.waived[invariant] = reason

    def check(self, state: PopulationState, day: int, components: Iterable[object]) -> None:
        """Check ``state`` at the end of ``day``, then let each component check what it owns."""
        self._check_population(state, day)
        for component in components:
            own_check = getattr(component, "check", None)
            if own_check is None:
                continue
            try:
                own_check(state, day)
            except StateError as error:
                if getattr(error, "invariant", None) not in self.waived:
                    raise

    def _check_population(self, state: PopulationState, day: int) -> None:
        for spec in AGENT_SCHEMA:
            array = state.arrays[spec.name]
            if array.shape != (state.size,) or array.dtype != spec.dtype:  # (the message only when it breaks)
                raise broken("people_conserved", day, f"state array {spec.name} is {array.dtype} {array.shape}, "
                                                      f"the population is {state.size} agents of {spec.dtype}")
        # Residents' rows only for the dead: zerosim.region parks empty visitor slots and travellers' home
        # rows as DEAD and AWAY, and fills them again when someone arrives (its module docstring).
        residents = int(state.groups.district_start[-1])
        if self._dead is None or self._dead.size != residents:
            self._dead = np.zeros(residents, dtype=np.bool_)
        low, high, revived, first = _scan_compartments(state.compartment, state.mobility, self._dead,
                                                       np.int8(Compartment.DEAD), np.int8(Mobility.AWAY))
        require(state.size == 0 or (low >= 0 and high < len(Compartment)), "compartment_codes", day,
                f"compartment codes range {low}..{high}, valid 0..{len(Compartment) - 1}")
        require(revived == 0, "dead_stay_dead", day,
                f"{revived} agents dead yesterday are alive today (first: agent {first}, "
                f"now code {state.compartment[first] if revived else ''})")


@njit(cache=True, nogil=True)
def _scan_compartments(compartment, mobility, was_dead, dead, away):
    """One pass over (n,) int8 ``compartment``: its smallest and largest code, and how many of the first
    ``was_dead.size`` agents were dead (and present) at the last check but are not dead now, with the
    first of them (-1 if none). ``was_dead`` (bool) is updated to today's dead and present."""
    low, high, revived, first = 127, -128, 0, -1
    residents = was_dead.size
    for i in range(compartment.size):
        code = compartment[i]
        low = min(low, code)
        high = max(high, code)
        if i < residents:
            if was_dead[i] and code != dead:
                revived += 1
                if first < 0:
                    first = i
            was_dead[i] = code == dead and mobility[i] != away
    return low, high, revived, first
