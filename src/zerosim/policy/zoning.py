"""Policy layer: zoned sealing -- sealed (封控区), controlled (管控区) and precaution (防范区) zones,
triggered at compound, subdistrict, district and city level, and released by case-free days or
"social-level zero". Every change is logged as an event (events.parquet).

Layer ``policy`` -- imports population codes and the engine protocol only. The output other
components read is ``compound_zone_level``: the effective level of each compound (the strictest of
its own, its subdistrict's, its district's and the city's). ``compound_case_level`` is the level drawn
around cases alone (its own and its subdistrict's): a case found outside quarantine in a compound below
controlled there counts as a community ("social-level") case even when its district or the whole city is
sealed -- Shanghai's reading in April-May 2022, when the whole city was locked down (docs/scenarios.md).
With ``cases_at_home_restart_clock``, a case found at home in a sealed or controlled compound restarts that
compound's days without a case, as the release rules say (docs/policies.md 4.1-4.2); off by default.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from zerosim.engine.component import Phase
from zerosim.policy.config import ZoningConfig
from zerosim.population.state import LEVEL_CODE, NEVER, PopulationState, ZoneLevel

LEVEL_NAMES = {int(level): level.name.lower() for level in ZoneLevel}

#: When the run's subdistricts hold less than this share of the real city's mean subdistrict, the rules
#: that act on a subdistrict (neighbours of a sealed compound, a subdistrict controlled after N sealed
#: compounds) act on neighbourhoods of the real size instead (see :func:`zone_neighbourhoods`).
NEIGHBOURHOOD_MIN_SHARE = 0.75


def zone_neighbourhoods(state: PopulationState) -> tuple[np.ndarray, int]:
    """The unit each compound's subdistrict rules act on: (unit of each compound (int64), number of units).

    A rule that acts on a subdistrict must act on as many people per case at every scale, or the same rule
    contains an outbreak better in a bigger run (issue 14: ``shanghai-2022`` at 1/100 infected three times
    the share it infected at 1/10, where a subdistrict held 15,500 people against 115,700). So when the
    run's subdistricts are smaller than :data:`NEIGHBOURHOOD_MIN_SHARE` of the real city's mean
    (``state.real_residents``), consecutive compounds in residence order are grouped into neighbourhoods of
    the real mean size (they may cross a district line: a reduced city cannot keep both its districts and
    its subdistricts at their real size). Otherwise -- at 1/10 scale and above -- the units are the run's
    own subdistricts, unchanged. Visitor slots (zerosim.region) belong to their host subdistrict's unit.
    """
    g = state.groups
    real = state.real_residents.get("subdistrict")
    residents = int(g.subdistrict_start[-1])
    if not real or residents / max(g.subdistrict_count, 1) >= NEIGHBOURHOOD_MIN_SHARE * real:
        return g.compound_subdistrict.astype(np.int64), g.subdistrict_count
    count = max(1, int(round(residents / real)))
    own = int(np.searchsorted(g.compound_start, residents))  # compounds of residents; visitor slots after
    middle = (g.compound_start[:own] + g.compound_start[1 : own + 1]) / 2.0
    unit = np.empty(g.compound_count, dtype=np.int64)
    unit[:own] = np.minimum((middle * count / residents).astype(np.int64), count - 1)
    if own < g.compound_count:
        host_first = np.searchsorted(g.compound_start, g.subdistrict_start[g.compound_subdistrict[own:]])
        unit[own:] = unit[np.minimum(host_first, own - 1)]
    return unit, count


def check_district_names(wanted: list[str], names: list[str], field: str) -> None:
    """Refuse (ValueError naming ``field``) district names the city does not have."""
    known = {name.lower() for name in names}
    unknown = [name for name in wanted if name.lower() not in known]
    if unknown:
        raise ValueError(f"{field}: unknown district {unknown[0]!r}; this city has {', '.join(names)}")


@dataclass
class ZoneEventLog:
    """Zone changes: day, zone level (compound/subdistrict/district/city), zone id, event, reason."""

    day: list[int] = field(default_factory=list)
    scope: list[str] = field(default_factory=list)
    zone_id: list[int] = field(default_factory=list)
    zone_name: list[str] = field(default_factory=list)
    event: list[str] = field(default_factory=list)
    reason: list[str] = field(default_factory=list)

    def add(self, day: int, scope: str, ids: np.ndarray, names: list[str] | None, event: str, reason: str) -> None:
        ids = np.asarray(ids).ravel()
        self.day.extend([day] * ids.size)
        self.scope.extend([scope] * ids.size)
        self.zone_id.extend(int(i) for i in ids)
        self.zone_name.extend(names if names is not None else [f"{scope} {int(i)}" for i in ids])
        self.event.extend([event] * ids.size)
        self.reason.extend([reason] * ids.size)

    def __len__(self) -> int:
        return len(self.day)

    def to_columns(self) -> dict[str, list]:
        return {"day": self.day, "scope": self.scope, "zone_id": self.zone_id, "zone_name": self.zone_name,
                "event": self.event, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Zoning:
    """Sets and lifts zones from today's detected cases; writes ``compound_zone_level``."""

    kind: ClassVar[str] = "zoning"

    @staticmethod
    def switched_on(containment) -> bool:
        return containment.zoning.enabled

    @classmethod
    def from_containment(cls, containment, disease) -> Zoning:
        return cls(config=containment.zoning)

    config: ZoningConfig
    name: str = "zoning"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset({"day_detected", "is_community_case", "compound_id"})
    writes: ClassVar[frozenset[str]] = frozenset(
        {
            "compound_zone_level", "compound_case_level", "compound_level", "compound_day_last_case", "compound_day_level_since",
            "subdistrict_level", "subdistrict_day_last_case", "district_level", "district_day_level_since",
            "district_day_last_community_case", "city_zone", "case_window", "zone_events", "compound_neighbourhood",
        }
    )

    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        g = state.groups
        neighbourhood, units = zone_neighbourhoods(state)
        arrays = {
            # the unit subdistrict rules act on, per compound (the subdistrict, or a real-size neighbourhood)
            "compound_neighbourhood": neighbourhood,
            "compound_zone_level": np.zeros(g.compound_count, dtype=np.int8),
            "compound_case_level": np.zeros(g.compound_count, dtype=np.int8),
            "compound_level": np.zeros(g.compound_count, dtype=np.int8),
            "compound_day_last_case": np.full(g.compound_count, NEVER, dtype=np.int16),
            "compound_day_level_since": np.full(g.compound_count, NEVER, dtype=np.int16),
            "subdistrict_level": np.zeros(units, dtype=np.int8),
            "subdistrict_day_last_case": np.full(units, NEVER, dtype=np.int16),
            "district_level": np.zeros(g.district_count, dtype=np.int8),
            "district_day_level_since": np.full(g.district_count, NEVER, dtype=np.int16),
            "district_day_last_community_case": np.full(g.district_count, NEVER, dtype=np.int16),
            # [level, day sealed, day of the last community case anywhere, zone changes today,
            #  community cases found today (outside quarantine and outside sealed or controlled compounds)]
            "city_zone": np.array([0, NEVER, NEVER, 0, 0], dtype=np.int32),
            # community cases per district over the last `window_days` days (ring buffer)
            "case_window": np.zeros((self.config.window_days, g.district_count), dtype=np.int64),
        }
        for name, array in arrays.items():
            state.unit_arrays[name] = array  # (re)created here: zoning owns them
        check_district_names(self.config.districts_sealed, list(state.district_names), "zoning.districts_sealed")
        state.stores["zone_events"] = ZoneEventLog()

    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        cfg = self.config
        g = state.groups
        log: ZoneEventLog = state.stores["zone_events"]
        level = state.compound_level
        since = state.compound_day_level_since
        last_case = state.compound_day_last_case
        sub_level = state.subdistrict_level
        district_level = state.district_level
        city = state.city_zone
        districts = g.district_count

        events_before = len(log)
        if not cfg.enabled:  # switched off by a policy timeline: every zone is lifted at once
            if state.compound_zone_level.any() or city[0]:
                for array in (level, sub_level, district_level):
                    array[:] = ZoneLevel.NONE
                since[:] = NEVER
                city[0] = ZoneLevel.NONE
                state.compound_zone_level[:] = ZoneLevel.NONE
                state.compound_case_level[:] = ZoneLevel.NONE
                log.add(day, "city", np.array([0]), ["city"], "released", "all zones lifted: policy changed")
            city[3] = len(log) - events_before
            city[4] = 0
            return
        detected = np.flatnonzero(state.day_detected == day)
        community = detected[state.is_community_case[detected] == 1]
        city[4] = community.size
        triggering = detected if cfg.count_quarantined_cases else community
        compounds = np.unique(state.compound_id[triggering]).astype(np.int64)
        hood = state.compound_neighbourhood  # each compound's subdistrict, or its real-size neighbourhood
        subdistricts = np.unique(hood[compounds])
        # Cases found at home inside sealed or controlled compounds (code 2; not in central quarantine): the
        # release rules count days "with no new case" in the area, and a positive in a controlled zone seals it
        # (docs/policies.md 4.1-4.2, [S4][S17][S25]). They are not community cases: with the option on they
        # restart their own compound's and neighbourhood's clocks but draw no new zones around them.
        inside = np.zeros(0, dtype=np.int64)
        if cfg.cases_at_home_restart_clock:
            inside = np.unique(state.compound_id[detected[state.is_community_case[detected] == 2]]).astype(np.int64)

        # -- triggers ---------------------------------------------------------------------------
        case_level = LEVEL_CODE[cfg.compound_level_on_case]
        if (compounds.size or inside.size) and case_level:
            cased = np.union1d(compounds, inside) if inside.size else compounds
            last_case[cased] = day
            state.subdistrict_day_last_case[np.unique(hood[cased]) if inside.size else subdistricts] = day
            raise_to = cased[level[cased] < case_level]
            level[raise_to] = case_level
            since[cased] = day
            log.add(day, "compound", raise_to, None, LEVEL_NAMES[case_level], "case among residents")
        neighbour_level = LEVEL_CODE[cfg.neighbours_level]
        if subdistricts.size and neighbour_level:
            in_subdistrict = np.isin(hood, subdistricts)
            raise_to = np.flatnonzero(in_subdistrict & (level < neighbour_level))
            level[raise_to] = neighbour_level
            refresh = np.flatnonzero(in_subdistrict & (level == neighbour_level))
            since[refresh] = day
            log.add(day, "compound", raise_to, None, LEVEL_NAMES[neighbour_level], "case in the subdistrict")
        if cfg.subdistrict_controlled_after_compounds is not None:
            sealed_count = np.bincount(hood[level == ZoneLevel.SEALED], minlength=sub_level.size)
            raise_to = np.flatnonzero(
                (sealed_count >= cfg.subdistrict_controlled_after_compounds) & (sub_level < ZoneLevel.CONTROLLED)
            )
            sub_level[raise_to] = ZoneLevel.CONTROLLED
            log.add(day, "subdistrict", raise_to, None, "controlled",
                    f">= {cfg.subdistrict_controlled_after_compounds} sealed compounds")
        # Community cases by district over the window.
        window = state.case_window  # its length is fixed by the first policy period's window_days
        window[day % window.shape[0]] = np.bincount(state.district_id[community], minlength=districts)
        if community.size:
            state.district_day_last_community_case[np.unique(state.district_id[community])] = day
            city[2] = day
        recent = window.sum(axis=0)
        names = list(state.district_names)
        district_people = np.diff(g.district_start)
        threshold = np.full(districts, np.inf)
        if cfg.district_sealed_after_cases is not None:
            threshold = np.minimum(threshold, cfg.district_sealed_after_cases)
        if cfg.district_sealed_after_cases_per_100k is not None:
            threshold = np.minimum(threshold, np.maximum(1, cfg.district_sealed_after_cases_per_100k * district_people / 1e5))
        raise_to = np.flatnonzero((recent >= threshold) & (district_level < ZoneLevel.SEALED))
        district_level[raise_to] = ZoneLevel.SEALED
        state.district_day_level_since[raise_to] = day
        log.add(day, "district", raise_to, [names[d] for d in raise_to], "sealed",
                f"community cases in {cfg.window_days} days above the district threshold")
        ordered = self._ordered_districts(names)
        raise_to = ordered[district_level[ordered] < ZoneLevel.SEALED]
        district_level[raise_to] = ZoneLevel.SEALED
        state.district_day_level_since[raise_to] = day
        log.add(day, "district", raise_to, [names[d] for d in raise_to], "sealed", "district lockdown ordered")
        if city[0] < ZoneLevel.SEALED:
            reason = None
            per_100k = cfg.city_sealed_after_cases_per_100k
            if per_100k is not None and recent.sum() >= max(1.0, per_100k * state.size / 1e5):
                reason = f">= {per_100k:g} community cases per 100,000 in {cfg.window_days} days"
            elif cfg.city_sealed_after_cases is not None and recent.sum() >= cfg.city_sealed_after_cases:
                reason = ("a single positive case shuts the whole city" if cfg.city_sealed_after_cases == 1
                          else f">= {cfg.city_sealed_after_cases} community cases in {cfg.window_days} days")
            elif cfg.city_sealed_from_day is not None and day == cfg.city_sealed_from_day:
                reason = f"citywide lockdown from day {cfg.city_sealed_from_day}"
            if reason:
                if city[0] == ZoneLevel.NONE:
                    city[1] = day
                city[0] = ZoneLevel.SEALED
                log.add(day, "city", np.array([0]), ["city"], "sealed", reason)
        ordered_level = LEVEL_CODE[cfg.city_ordered_level]
        if city[0] < ordered_level:
            if city[0] == ZoneLevel.NONE:
                city[1] = day  # the closure is counted from its first day, whatever its level
            city[0] = ordered_level
            log.add(day, "city", np.array([0]), ["city"], LEVEL_NAMES[ordered_level], "citywide order")

        # -- releases -----------------------------------------------------------------------------
        quiet = day - np.where(last_case >= 0, last_case, -10**6)
        step_down = np.flatnonzero((level == ZoneLevel.SEALED) & (quiet >= cfg.sealed_release_days))
        level[step_down] = ZoneLevel.CONTROLLED
        since[step_down] = day
        log.add(day, "compound", step_down, None, "controlled", f"{cfg.sealed_release_days} days without a case")
        step_down = np.flatnonzero((level == ZoneLevel.CONTROLLED) & (day - since >= cfg.controlled_release_days)
                                   & (quiet >= cfg.controlled_release_days))
        level[step_down] = ZoneLevel.PRECAUTION
        since[step_down] = day
        log.add(day, "compound", step_down, None, "precaution", f"{cfg.controlled_release_days} more days without a case")
        lifted = np.flatnonzero((level == ZoneLevel.PRECAUTION) & (day - since >= cfg.precaution_release_days)
                                & (since != day))
        level[lifted] = ZoneLevel.NONE
        since[lifted] = NEVER
        log.add(day, "compound", lifted, None, "released", f"{cfg.precaution_release_days} days in precaution")
        if cfg.subdistrict_controlled_after_compounds is not None:
            sub_quiet = day - np.where(state.subdistrict_day_last_case >= 0, state.subdistrict_day_last_case, -10**6)
            lifted = np.flatnonzero((sub_level == ZoneLevel.CONTROLLED) & (sub_quiet >= cfg.controlled_release_days))
            sub_level[lifted] = ZoneLevel.NONE
            log.add(day, "subdistrict", lifted, None, "released", f"{cfg.controlled_release_days} days without a case")
        zero_since = day - np.where(state.district_day_last_community_case >= 0, state.district_day_last_community_case, -10**6)
        lifted = np.flatnonzero(
            (district_level == ZoneLevel.SEALED)
            & (zero_since >= cfg.city_release_social_zero_days)
            & (day - state.district_day_level_since >= cfg.city_min_sealed_days)
        )
        lifted = lifted[~np.isin(lifted, ordered)]  # an ordered lockdown lasts while its order does
        district_level[lifted] = ZoneLevel.NONE
        log.add(day, "district", lifted, [names[d] for d in lifted], "released",
                f"social-level zero for {cfg.city_release_social_zero_days} days")
        if city[0] > ordered_level:
            zero_days = day - (city[2] if city[2] >= 0 else -10**6)
            if zero_days >= cfg.city_release_social_zero_days and day - city[1] >= cfg.city_min_sealed_days:
                city[0] = ordered_level
                log.add(day, "city", np.array([0]), ["city"], LEVEL_NAMES[ordered_level] if ordered_level else "released",
                        f"social-level zero for {cfg.city_release_social_zero_days} days")

        # -- effective level per compound -------------------------------------------------------------
        effective = np.maximum(level, sub_level[state.compound_neighbourhood])
        state.compound_case_level[:] = effective  # zones drawn around cases (what "social-level zero" looks past)
        effective = np.maximum(effective, district_level[g.subdistrict_district[g.compound_subdistrict]])
        state.compound_zone_level[:] = np.maximum(effective, city[0]).astype(np.int8)
        city[3] = len(log) - events_before

    def _ordered_districts(self, names: list[str]) -> np.ndarray:
        """Indices of the districts sealed by order in this period (names checked at setup)."""
        index = {name.lower(): i for i, name in enumerate(names)}
        return np.array([index[name.lower()] for name in self.config.districts_sealed], dtype=np.int64)

    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        g = state.groups
        people = np.diff(g.compound_start)
        levels = state.compound_zone_level
        by_level = np.bincount(levels, weights=people, minlength=len(ZoneLevel))
        # The zones drawn around cases alone, without district or city lockdowns: what Shanghai published
        # as its three-zone lists (sealed, controlled, precaution) while the whole city stayed at home.
        by_case_level = np.bincount(state.compound_case_level, weights=people, minlength=len(ZoneLevel))
        compound_district = g.subdistrict_district[g.compound_subdistrict]
        return {
            "sealed": float(by_level[ZoneLevel.SEALED]),
            "controlled": float(by_level[ZoneLevel.CONTROLLED]),
            "precaution": float(by_level[ZoneLevel.PRECAUTION]),
            "sealed_around_cases": float(by_case_level[ZoneLevel.SEALED]),
            "controlled_around_cases": float(by_case_level[ZoneLevel.CONTROLLED]),
            "precaution_around_cases": float(by_case_level[ZoneLevel.PRECAUTION]),
            "city_sealed": float(state.city_zone[0] == ZoneLevel.SEALED),
            "zone_changes": float(state.city_zone[3]),
            "cases_detected_community": float(state.city_zone[4]),
            "sealed_district": np.bincount(compound_district[levels == ZoneLevel.SEALED],
                                           weights=people[levels == ZoneLevel.SEALED], minlength=g.district_count),
            "controlled_district": np.bincount(compound_district[levels == ZoneLevel.CONTROLLED],
                                               weights=people[levels == ZoneLevel.CONTROLLED], minlength=g.district_count),
        }
