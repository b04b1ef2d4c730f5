"""Policy layer: mass PCR testing -- campaign rounds over zones, swab stations with a daily
capacity, k-in-1 pooling with Dorfman re-tests, a citywide lab with a FIFO backlog, fever-clinic,
quarantine, sector-screening and antigen-triggered tests, and the reporting of results (the day a
case is *detected*, which the isolation, tracing and zoning components react to).

Layer ``policy`` -- imports population codes, the disease config, kernels and infected index, the transmission
hash, the engine protocol and ``errors`` only. Writes only the testing rows of the state (see
:class:`Testing`); people are confined by the Confinement component, not here.

A day, in order (the component runs first in the policy phase, so it sees yesterday's zones,
quarantines and isolations):

1. **Campaign rounds** start (see below) and request swabs.
2. **Swab stations** swab pending requests, per subdistrict, oldest first, up to capacity.
3. The swabbed of the campaigns are **pooled** and the tubes go to the *mass* lane of the lab.
4. **Individual tests** (quarantine test days, fever clinic, antigen-positive confirmation, sector
   screening) are swabbed and go to the *priority* lane.
5. The **lab** processes up to its capacity: priority lane first, then the mass lane, each in
   order of swab day. Processed tubes report ``result_delay_days`` later.
6. **Results** due today are applied; members of positive pools are re-tested individually: their
   re-test tubes are swabbed today and join the priority lane (processed from tomorrow).

How each config field is used
-----------------------------
``TestingConfig``

* ``campaigns``: the rounds (``CampaignConfig`` below), evaluated in list order each day.
* ``sector_screening``: routine screening of workers (``SectorScreeningConfig`` below).
* ``household_pools_in_sealed``: in compounds whose ``compound_zone_level`` is SEALED, a campaign
  tube holds one household's swabs (however many) instead of k consecutive residents.
* ``symptomatic_test_probability_per_day``: each day, each agent in MILD, SEVERE or CRITICAL who is
  not yet detected, not isolated in a facility and has no PCR result outstanding
  (``day_last_swab > day_last_result``) gets a single priority tube with this probability.
* ``swabs_per_day_per_100k``: swab-station throughput of each subdistrict, people per day:
  ``max(1, floor(value x subdistrict residents / 1e5))``; None = everyone requested is swabbed the
  same day. Only campaign swabs use the stations; individual tests do not.
* ``lab_tubes_per_day_per_100k``: citywide lab capacity, ``max(1, floor(value x N / 1e5))`` tubes
  per day; None = unlimited.
* ``result_delay_days``: a tube processed on day d reports on day d + delay.
* ``limit_of_detection_log10``, ``detection_slope_log10``: a tube with an infected sample reads
  positive with probability ``logistic((tube load - limit) / slope)`` (a step at the limit if the
  slope is 0). The tube load is ``log10(sum over infected samples of 10**sample load / k)`` with k
  the tube's samples (dilution).
* ``swab_log10_sd``: each infected sample's load is the agent's log10 viral load that day
  (``disease.kernels.log10_viral_load``) plus Normal(0, sd) noise (sampling variation).
* ``specificity``: a tube without an infected sample reads positive with probability
  ``1 - specificity`` (a false positive; its members become cases like any positive).
* ``retest_pool_members``: True: a positive pool (more than one sample) makes its members
  PENDING_RETEST and gives each an individual re-test tube (Dorfman); False: every member of a
  positive pool is a case.
* ``pool_positive_members_stay_home``: read by the Confinement component, not here.
* ``antigen_self_test_probability_per_day``: each day each free (mobility FREE), not-yet-detected
  resident self-tests with this probability (counted in ``antigen_tests``); an infected one reads
  positive with probability ``logistic((log10 VL - antigen_limit_of_detection_log10) / 0.5)``
  (the uninfected never: perfect antigen specificity, an ASSUMPTION), and a positive is confirmed by
  a single priority PCR tube (the antigen result itself detects nobody).
* ``antigen_limit_of_detection_log10``: the antigen 50 % detection point above.

``CampaignConfig``

* ``zone``/``target``: who is targeted: 'city' everyone; 'district' the district whose English
  name is ``target``; 'subdistrict'/'compound' the unit whose index is ``target``; 'sealed',
  'controlled', 'precaution' the residents of compounds at exactly that ``compound_zone_level``,
  'restricted' those at CONTROLLED or SEALED. With ``zone_levels: around_cases`` the level read is
  ``compound_case_level`` (the zones drawn around cases, without the district's or the city's), so a
  city sealed as a whole still tests its zones at their own cadences.
* ``start_day``, ``start_after_cases``: the first round starts on the first day >= start_day on
  which at least ``start_after_cases`` cases have been detected before that day (cumulative).
* ``interval_days``: a round starts when at least this many days have passed since the last one.
* ``rounds``: rounds held at most (None: no limit). A zone-level campaign holds a round only on a
  day when at least one compound is at its level.
* ``coverage_by_age_band`` (optional) replaces ``coverage_fraction`` by 10-year age band.
* ``coverage_fraction``: each targeted resident who is alive, not isolated in a facility and has no
  request pending from an earlier day is requested with this probability (a counter-based hash of
  the agent under a fresh seed each round, so who is missed changes between rounds).
* ``pool_size``: samples per tube for the residents this round requested (same-day overlaps keep
  the smaller pool size). Tubes never mix compounds: k consecutive swabbed residents (agent order,
  i.e. household by household, building by building) of one compound.

``SectorScreeningConfig``

* ``sectors``: workers (``sector``) of these sectors with a workplace that is open, who are free to
  go out, are screened.
* ``interval_days``, ``start_day``: a worker is screened on the days ``d >= start_day`` with
  ``(d - start_day) % interval_days == agent index % interval_days`` (the workforce is spread over
  the interval). A sector in two configs follows the first.
* ``pool_size``: screening samples are pooled k per tube among the day's screened workers of one
  workplace (1 = single tubes); the tubes go to the priority lane, and positive pools are re-tested
  like campaign pools.

The component's own mutable data lives in the state: the ``lab_queue`` store (:class:`LabQueue`),
and the unit arrays ``swab_pool_size`` (per agent, a schema row), ``testing_counts`` (:class:`TestingCounter`),
``testing_cases_district`` and ``testing_campaign_rounds``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from zerosim.disease.components import infected_agents
from zerosim.disease.config import ViralLoadConfig
from zerosim.engine.component import Phase
from zerosim.engine.invariants import require
from zerosim.engine.rng import kernel_seed
from zerosim.errors import ScenarioError
from zerosim.policy.config import CampaignConfig, TestingConfig
from zerosim.policy.testing_kernels import (
    FLAG_FALSE_POSITIVE,
    FLAG_POSITIVE,
    STREAM_CAMPAIGN,
    apply_distinct_result_stage,
    apply_packed_result_stage,
    TestedPeople,
    TestRules,
    classify_individual_tests,
    classify_listed_tests,
    gather_individual_tests,
    form_pools,
    group_swabbed,
    pack_members,
    plan_swabs,
    quarantined_agents,
    request_swabs,
    request_swabs_in_compounds,
    screened_workers_by_turn,
    symptomatic_agents,
    take_swabs,
    tubes_of_buckets,
    unpack_members,
    viral_samples,
)
from zerosim.memory import release_freed_memory
from zerosim.population.kernels import SCAN_CHUNKS, blocks_with, threads_for, union_sorted
from zerosim.population.state import NEVER, PopulationState, Sector, TestResult, ZoneLevel
from zerosim.population.testing_counts import TestingCounter


#: Zone names of campaigns that target compounds by their ``compound_zone_level``.
ZONE_LEVEL_TARGETS: dict[str, tuple[int, ...]] = {
    "sealed": (ZoneLevel.SEALED,),
    "controlled": (ZoneLevel.CONTROLLED,),
    "precaution": (ZoneLevel.PRECAUTION,),
    "restricted": (ZoneLevel.CONTROLLED, ZoneLevel.SEALED),
}


# -- the lab queue ---------------------------------------------------------------------------------
@dataclass(slots=True)
class TubeBatch:
    """Tubes swabbed (or processed) together, as arrays.

    Tube j holds agents ``members[member_start[j]:member_start[j + 1]]`` (absolute offsets into
    ``members``, so slicing a batch copies nothing). No agent is in two tubes of a batch (each
    batch is one day's swabs of one lane, each swabbed once), so its negative results are applied
    in parallel.

    Attributes
    ----------
    swab_day : (t,) int16
    flags : (t,) int8
        ``FLAG_POSITIVE`` (the lab will read it positive) and ``FLAG_FALSE_POSITIVE`` bits, decided
        at swab time from the samples' loads.
    member_start : (t + 1,) int64
    members : (>= member_start[-1],) int32, or (b,) uint8 when ``packed_base >= 0``
        With ``packed_base >= 0`` (see :meth:`pack`) the members are a set of agents, one bit each:
        bit ``i`` of ``members`` is agent ``packed_base + i``, and the batch's member list is those
        agents in increasing order. A citywide round's tubes wait a day for their results; packed,
        they keep 1 bit per agent of the round's range instead of 4 bytes per swab.
    due_day : int
        Day the results are reported (set when the batch is processed; -1 before).
    packed_base : int
        -1: ``members`` are agent ids; else the agent of bit 0 of the packed ``members``.
    """

    swab_day: np.ndarray
    flags: np.ndarray
    member_start: np.ndarray
    members: np.ndarray
    due_day: int = -1
    packed_base: int = -1

    @property
    def tube_count(self) -> int:
        return int(self.swab_day.size)

    @property
    def member_count(self) -> int:
        return int(self.member_start[-1] - self.member_start[0])

    def member_ids(self) -> np.ndarray:
        """The agents of the batch's tubes, tube by tube, (member_count,) int32 (a view unless packed)."""
        if self.packed_base < 0:
            return self.members[self.member_start[0] : self.member_start[-1]]
        out = np.empty(self.member_count, dtype=np.int32)
        found = unpack_members(self.members, self.packed_base, int(self.member_start[0]), out)
        if found != out.size:
            raise RuntimeError(f"packed tube batch holds {found} of its {out.size} members")
        return out

    def pack(self) -> "TubeBatch":
        """This batch with its members as one bit per agent of their range, when that is smaller
        (members strictly increasing, as a round's swabs are); else itself."""
        ids = self.member_ids()
        if self.packed_base >= 0 or ids.size == 0:
            return self
        base = int(ids[0])
        nbytes = (int(ids[-1]) - base) // 8 + 1
        if nbytes <= 0 or nbytes >= ids.nbytes:
            return self
        bits = np.zeros(nbytes, dtype=np.uint8)
        if not pack_members(ids, base, bits):  # not strictly increasing: a bit set cannot keep the order
            return self
        return TubeBatch(self.swab_day, self.flags, self.member_start - self.member_start[0], bits, self.due_day, base)

    def slice(self, first: int, stop: int) -> "TubeBatch":
        """Tubes ``first .. stop - 1`` as views."""
        return TubeBatch(
            self.swab_day[first:stop], self.flags[first:stop], self.member_start[first : stop + 1], self.members,
            self.due_day, self.packed_base,
        )

    @staticmethod
    def concatenate(batches: list["TubeBatch"]) -> "TubeBatch":
        """One batch holding the tubes of ``batches`` in order (members copied and re-based)."""
        if len(batches) == 1:
            return batches[0]
        if not batches:
            return TubeBatch(np.zeros(0, np.int16), np.zeros(0, np.int8), np.zeros(1, np.int64), np.zeros(0, np.int32))
        members = np.concatenate([b.member_ids() for b in batches])
        starts = [np.zeros(1, np.int64)]
        base = 0
        for b in batches:
            starts.append(b.member_start[1:] - b.member_start[0] + base)
            base += b.member_count
        return TubeBatch(
            np.concatenate([b.swab_day for b in batches]),
            np.concatenate([b.flags for b in batches]),
            np.concatenate(starts),
            members,
        )


@dataclass(slots=True)
class LabQueue:
    """The citywide lab: two FIFO lanes of tubes waiting to be processed, and processed tubes
    waiting for their report day. Each lane is a list of batches (appending and popping cost in
    proportion to the tubes moved, not to the backlog).

    Attributes
    ----------
    priority : list of TubeBatch
        Individual tests, sector screening and Dorfman re-tests; processed first.
    mass : list of TubeBatch
        Campaign tubes, in order of swab day.
    reporting : list of TubeBatch
        Processed tubes, each batch with its ``due_day`` (non-decreasing).
    """

    priority: list[TubeBatch] = field(default_factory=list)
    mass: list[TubeBatch] = field(default_factory=list)
    reporting: list[TubeBatch] = field(default_factory=list)

    @staticmethod
    def waiting_in(lane: list[TubeBatch]) -> int:
        return sum(batch.tube_count for batch in lane)

    def waiting(self) -> int:
        """Tubes waiting to be processed (both lanes)."""
        return self.waiting_in(self.priority) + self.waiting_in(self.mass)

    @staticmethod
    def take(lane: list[TubeBatch], count: int | None) -> list[TubeBatch]:
        """Remove and return up to ``count`` tubes (None: all) from the front of ``lane``."""
        taken: list[TubeBatch] = []
        while lane and (count is None or count > 0):
            head = lane[0]
            if count is None or head.tube_count <= count:
                taken.append(lane.pop(0))
                if count is not None:
                    count -= head.tube_count
            else:
                taken.append(head.slice(0, count))
                lane[0] = head.slice(count, head.tube_count)
                count = 0
        return taken


# -- helpers ---------------------------------------------------------------------------------------
def per_100k_capacity(per_100k: float | None, people: np.ndarray | int) -> np.ndarray | int | None:
    """Daily capacity ``max(1, floor(per_100k x people / 1e5))`` (None = unlimited), elementwise."""
    if per_100k is None:
        return None
    capacity = np.maximum(1, np.floor(per_100k * np.asarray(people, dtype=np.float64) / 1e5)).astype(np.int64)
    return int(capacity) if capacity.ndim == 0 else capacity


def swab_capacity_by_subdistrict(config: TestingConfig, state: PopulationState) -> np.ndarray:
    """Swabs per day of each subdistrict, (subdistricts,) int64; -1 = unlimited."""
    residents = np.diff(state.groups.subdistrict_start)
    capacity = per_100k_capacity(config.swabs_per_day_per_100k, residents)
    return np.full(residents.size, -1, dtype=np.int64) if capacity is None else capacity


def lab_capacity(config: TestingConfig, state: PopulationState) -> int | None:
    """Tubes the lab processes per day (None = unlimited)."""
    return per_100k_capacity(config.lab_tubes_per_day_per_100k, state.size)


def _campaign_range(campaign: CampaignConfig, index: int, state: PopulationState) -> tuple[int, int] | None:
    """Agent range [lo, hi) of a campaign with a fixed target, or None for a zone-level campaign."""
    g = state.groups
    field_name = f"testing.campaigns[{index}].target"
    if campaign.zone == "city":
        return 0, state.size
    if campaign.zone in ZONE_LEVEL_TARGETS:
        return None
    if campaign.target is None:
        raise ScenarioError(f"{field_name}: zone {campaign.zone!r} needs a target; give its name or index")
    if campaign.zone == "district":
        if campaign.target not in state.district_names:
            raise ScenarioError(
                f"{field_name}: unknown district {campaign.target!r}; use one of {', '.join(state.district_names)}"
            )
        unit, starts = state.district_names.index(campaign.target), g.district_start
    else:
        starts = g.subdistrict_start if campaign.zone == "subdistrict" else g.compound_start
        count = starts.size - 1
        try:
            unit = int(campaign.target)
        except ValueError:
            raise ScenarioError(
                f"{field_name}: {campaign.target!r} is not an index; give a {campaign.zone} index 0-{count - 1}"
            ) from None
        if not 0 <= unit < count:
            raise ScenarioError(
                f"{field_name}: {campaign.zone} {unit} does not exist; this city has {campaign.zone}s 0-{count - 1}"
            )
    return int(starts[unit]), int(starts[unit + 1])


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values of a 1-D integer array (sort-based; faster than ``np.unique`` here)."""
    ordered = np.sort(values)
    if ordered.size < 2:
        return ordered
    keep = np.empty(ordered.size, dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _union(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Sorted union of two ascending int32 agent lists."""
    out = np.empty(first.size + second.size, dtype=np.int32)
    return out[: union_sorted(first, first.size, second, out)]


def _ever_detectable_blocks(state: PopulationState) -> np.ndarray:
    """Per block of ``SCAN_BLOCK`` agents, whether anyone in it was ever detectable (for ``viral_samples``)."""
    return blocks_with(state.day_viral_detectable, np.int16(NEVER), True)


def _ensure_unit_array(state: PopulationState, name: str, array: np.ndarray) -> None:
    """Add a unit array, or replace the one a previous set-up left (fresh values for this run)."""
    if name in state.unit_arrays:
        state.unit_arrays[name] = array
    else:
        state.add_unit_array(name, array)


# -- results of single PCRs taken elsewhere ----------------------------------------------------------
#: The per-agent arrays :func:`record_pcr_results` writes (all the testing layer's own).
PCR_RESULT_ARRAYS = frozenset({"day_last_swab", "day_last_result", "test_result", "consecutive_negatives",
                               "day_detected", "is_community_case", "day_swab_requested", "swab_pool_size"})


def record_pcr_results(state: PopulationState, rows: np.ndarray, positive: np.ndarray, day: int,
                       community: bool | np.ndarray, requests_taken: bool = False) -> None:
    """Write single PCRs of ``rows`` taken elsewhere and reported on ``day`` (the testing layer's rows of
    the state only): negatives count towards ``consecutive_negatives``; positives are detected cases
    from ``day + 1`` (``is_community_case`` from ``community``, one flag or one per row).

    Call it through :meth:`Testing.record_results` when a Testing component runs; directly only from a
    component that stands in for testing (``stands_in_for``) in a run without one.

    Parameters
    ----------
    rows : (k,) int, distinct agents
    positive : (k,) bool
    community : bool or (k,) bool
    requests_taken : bool
        The swab answers the rows' pending campaign requests: they are cleared.
    """
    rows = np.asarray(rows)
    positive = np.asarray(positive, dtype=bool)
    community = np.broadcast_to(np.asarray(community, dtype=bool), rows.shape)
    state.day_last_swab[rows] = day
    state.day_last_result[rows] = day
    negative = rows[~positive]
    state.test_result[negative] = TestResult.NEGATIVE
    state.consecutive_negatives[negative] = np.minimum(state.consecutive_negatives[negative].astype(np.int16) + 1, 127)
    cases = rows[positive]
    state.test_result[cases] = TestResult.POSITIVE
    state.consecutive_negatives[cases] = 0
    first = state.day_detected[cases] < 0
    new = cases[first]
    state.day_detected[new] = day + 1
    state.is_community_case[new] = np.where(community[positive][first], 1, 0)
    if requests_taken:
        state.day_swab_requested[rows] = NEVER
        state.swab_pool_size[rows] = 1


# -- the component ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Testing:
    """Mass testing: campaigns, swab stations, pooling, lab, individual tests and results.

    Parameters
    ----------
    config : TestingConfig
    viral_load : ViralLoadConfig
        The disease's viral-load course; its ``detection_limit_log10`` is the floor of
        ``log10_viral_load``.
    quarantine_test_days : tuple of int
        Days of quarantine (1 = ``day_quarantine_start``) with a PCR test for agents in CENTRAL or
        HOME quarantine (from ``TracingConfig.test_days``).
    """

    kind: ClassVar[str] = "testing"

    @staticmethod
    def switched_on(containment) -> bool:
        """Whether a containment config runs testing (it does whenever tracing does: quarantine tests)."""
        t = containment.testing
        return bool(t.campaigns or t.sector_screening or t.symptomatic_test_probability_per_day > 0
                    or t.antigen_self_test_probability_per_day > 0 or containment.tracing.enabled)

    @classmethod
    def from_containment(cls, containment, disease) -> Testing:
        tracing = containment.tracing
        return cls(config=containment.testing, viral_load=disease.viral_load,
                   quarantine_test_days=tuple(tracing.test_days) if tracing.enabled else ())

    config: TestingConfig
    viral_load: ViralLoadConfig
    quarantine_test_days: tuple[int, ...] = ()
    name: str = "testing"
    phase: ClassVar[Phase] = Phase.POLICY
    reads: ClassVar[frozenset[str]] = frozenset(
        {
            "compartment", "mobility", "isolation_status", "quarantine_status", "day_quarantine_start",
            "compound_id", "household_id", "district_id", "workplace_id", "sector", "workplace_is_open",
            "day_viral_detectable", "day_viral_peak", "day_viral_clear", "viral_peak_log10", "compound_zone_level",
            "compound_case_level", "age", "is_compliant_today",
        }
    )
    writes: ClassVar[frozenset[str]] = frozenset(
        {
            "day_swab_requested", "day_last_swab", "test_result", "day_last_result", "consecutive_negatives",
            "day_detected", "is_community_case", "lab_queue", "swab_pool_size", "testing_counts",
            "testing_campaign_config",
            "testing_cases_district", "testing_campaign_rounds", "testing_screened_workers", "testing_viral_blocks",
        }
    )

    # -- set-up ---------------------------------------------------------------------------------
    def setup(self, state: PopulationState, rng: np.random.Generator) -> None:
        g = state.groups
        for index, campaign in enumerate(self.config.campaigns):
            _campaign_range(campaign, index, state)  # validates the target
        if not state.has_array("compound_zone_level"):
            state.add_unit_array("compound_zone_level", np.zeros(g.compound_count, dtype=np.int8))
        if not state.has_array("compound_case_level"):
            state.add_unit_array("compound_case_level", np.zeros(g.compound_count, dtype=np.int8))
        if not state.has_array("swab_pool_size"):
            # Per agent: pool size of the pending request (used only if the schema has no such row).
            state.add_unit_array("swab_pool_size", np.ones(state.size, dtype=np.int8))
        _ensure_unit_array(state, "testing_counts", np.zeros(len(TestingCounter), dtype=np.int64))
        _ensure_unit_array(state, "testing_cases_district", np.zeros(g.district_count, dtype=np.int64))
        # per campaign: [rounds held, day of the last round start (-1 = none)]
        rounds = np.zeros((len(self.config.campaigns), 2), dtype=np.int64)
        rounds[:, 1] = -1
        _ensure_unit_array(state, "testing_campaign_rounds", rounds)
        state.stores["lab_queue"] = LabQueue()
        state.stores["testing_screened_workers"] = None  # listed on first use (see _screening_due)
        state.stores["testing_campaign_config"] = None
        state.stores["testing_viral_blocks"] = None  # made at the start of each step

    # -- daily step -----------------------------------------------------------------------------
    def step(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        counts = state.testing_counts
        for slot in TestingCounter:
            if slot.name.endswith("_TODAY"):
                counts[slot] = 0
        state.testing_cases_district[:] = 0
        queue: LabQueue = state.lab_queue
        # Blocks of agents of whom someone was ever detectable, made once for every tube batch of the
        # step (nothing in it changes day_viral_detectable) and dropped at its end: a batch made
        # outside a step makes its own.
        state.stores["testing_viral_blocks"] = _ever_detectable_blocks(state)
        try:
            self._start_rounds(state, day, rng)
            if state.testing_counts[TestingCounter.PENDING_REQUESTS] > state.size // 8:
                # A big round's swabs and tubes (about 5 bytes per swab) come next: first give back the
                # free heap the day's smaller arrays left (glibc keeps it), so they do not add up.
                release_freed_memory()
            swabbed = self._swab_requests(state, day)
            if swabbed.size:
                queue.mass.append(self._pooled_batch(state, swabbed, day, rng).pack())
                del swabbed
            for batch in self._individual_tests(state, day, rng):
                queue.priority.append(batch)
            self._run_lab(state, day)
            self._report_results(state, day, rng)
        finally:
            state.stores["testing_viral_blocks"] = None
        counts[TestingCounter.LAB_BACKLOG] = queue.waiting()

    def _start_rounds(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        """Start the campaign rounds due today: request swabs of their targeted residents."""
        counts = state.testing_counts
        rounds = state.testing_campaign_rounds
        signature = self.config.model_dump_json()
        if state.stores.get("testing_campaign_config") != signature:
            # A new policy period (timeline) brings its own campaigns: their rounds start afresh.
            if state.stores.get("testing_campaign_config") is not None or rounds.shape[0] != len(self.config.campaigns):
                rounds = np.zeros((len(self.config.campaigns), 2), dtype=np.int64)
                rounds[:, 1] = -1
                state.unit_arrays["testing_campaign_rounds"] = rounds
            state.stores["testing_campaign_config"] = signature
        cases_before_today = counts[TestingCounter.CUMULATIVE_CASES]
        for index, campaign in enumerate(self.config.campaigns):
            held, last = rounds[index]
            if day < campaign.start_day or (campaign.rounds is not None and held >= campaign.rounds):
                continue
            if held == 0 and campaign.start_after_cases is not None and cases_before_today < campaign.start_after_cases:
                continue
            if last >= 0 and day - last < campaign.interval_days:
                continue
            bounds = _campaign_range(campaign, index, state)
            if bounds is None:
                levels = state.compound_case_level if campaign.zone_levels == "around_cases" else state.compound_zone_level
                chosen = np.flatnonzero(np.isin(levels, ZONE_LEVEL_TARGETS[campaign.zone]))
                if chosen.size == 0:
                    continue  # no compound at this level today: no round
                requested = request_swabs_in_compounds(
                    day, kernel_seed(rng), STREAM_CAMPAIGN + index, campaign.coverage_by_band(), chosen,
                    state.groups.compound_start, campaign.pool_size, state.age, state.compartment,
                    state.isolation_status, state.day_swab_requested, state.swab_pool_size, state.is_compliant_today,
                )
            else:
                requested = request_swabs(
                    day, kernel_seed(rng), STREAM_CAMPAIGN + index, campaign.coverage_by_band(), bounds[0], bounds[1],
                    campaign.pool_size, state.age, state.compartment, state.isolation_status, state.day_swab_requested,
                    state.swab_pool_size, state.is_compliant_today,
                )
            counts[TestingCounter.PENDING_REQUESTS] += requested
            counts[TestingCounter.REQUESTED_TOTAL] += requested
            rounds[index] = held + 1, day

    def _swab_requests(self, state: PopulationState, day: int) -> np.ndarray:
        """Swab pending campaign requests within each subdistrict's capacity; return the swabbed (int32)."""
        counts = state.testing_counts
        if counts[TestingCounter.PENDING_REQUESTS] == 0:
            return np.zeros(0, dtype=np.int32)
        starts = state.groups.subdistrict_start
        capacity = swab_capacity_by_subdistrict(self.config, state)
        take = np.zeros(capacity.size, dtype=np.int64)
        threshold_day = np.zeros(capacity.size, dtype=np.int64)
        threshold_take = np.zeros(capacity.size, dtype=np.int64)
        plan_swabs(starts, capacity, state.compartment, state.isolation_status, state.day_swab_requested,
                   take, threshold_day, threshold_take)
        offsets = np.zeros(capacity.size + 1, dtype=np.int64)
        np.cumsum(take, out=offsets[1:])
        swabbed = np.empty(int(offsets[-1]), dtype=np.int32)
        cancelled = np.zeros(capacity.size, dtype=np.int64)
        take_swabs(day, starts, offsets, threshold_day, threshold_take, state.compartment, state.isolation_status,
                   state.day_swab_requested, state.day_last_swab, swabbed, cancelled)
        dropped = int(cancelled.sum())
        counts[TestingCounter.PENDING_REQUESTS] -= swabbed.size + dropped
        counts[TestingCounter.CANCELLED_TOTAL] += dropped
        counts[TestingCounter.CAMPAIGN_SWABBED_TOTAL] += swabbed.size
        counts[TestingCounter.SWABBED_TODAY] += swabbed.size
        return swabbed

    def _pooled_batch(
        self, state: PopulationState, swabbed: np.ndarray, day: int, rng: np.random.Generator
    ) -> TubeBatch:
        """Campaign tubes of today's swabbed (agent order): k per tube within a compound, or one per
        household in sealed compounds (with ``household_pools_in_sealed``)."""
        household_mode = np.zeros(state.groups.compound_count, dtype=np.int8)
        if self.config.household_pools_in_sealed:
            household_mode[state.compound_zone_level == ZoneLevel.SEALED] = 1
        pools = (swabbed, state.compound_id, state.swab_pool_size, 0, state.household_id, household_mode)
        # One pass into a buffer with room for a tube per swab: only the pages of the tubes written
        # become resident (about one in k), and the buffer is shrunk in place (realloc: no copy).
        tube_start = np.empty(swabbed.size + 1, dtype=np.int64)
        tubes = form_pools(*pools, tube_start)
        tube_start.resize(tubes + 1, refcheck=False)  # owned and not shared: nothing refers to it yet
        return self._tube_batch(state, swabbed, tube_start, day, rng)

    def _individual_tests(self, state: PopulationState, day: int, rng: np.random.Generator) -> list[TubeBatch]:
        """Today's quarantine, fever-clinic, antigen-confirmation and sector-screening swabs, as priority batches."""
        cfg = self.config
        screening = cfg.sector_screening
        if (cfg.symptomatic_test_probability_per_day == 0 and cfg.antigen_self_test_probability_per_day == 0
                and not screening and not self.quarantine_test_days):
            return []
        test_day = np.zeros(max(self.quarantine_test_days, default=0) + 1, dtype=np.bool_)
        test_day[list(self.quarantine_test_days)] = True
        screen_of_sector = np.full(len(Sector), -1, dtype=np.int8)
        for index in reversed(range(len(screening))):  # a sector in two configs follows the first
            for sector_name in screening[index].sectors:
                screen_of_sector[Sector[sector_name.upper()]] = index
        screen_start = np.array([s.start_day for s in screening], dtype=np.int64)
        screen_interval = np.array([s.interval_days for s in screening], dtype=np.int64)
        rules = TestRules(
            day, kernel_seed(rng), float(cfg.symptomatic_test_probability_per_day),
            float(cfg.antigen_self_test_probability_per_day), float(cfg.antigen_limit_of_detection_log10),
            float(self.viral_load.detection_limit_log10), test_day, screen_of_sector, screen_start, screen_interval)
        people = TestedPeople(
            state.compartment, state.mobility, state.day_detected, state.isolation_status, state.quarantine_status,
            state.day_quarantine_start, state.day_last_swab, state.day_last_result, state.sector, state.workplace_id,
            state.workplace_is_open, state.day_viral_detectable, state.day_viral_peak, state.day_viral_clear,
            state.viral_peak_log10)
        counts = state.testing_counts
        if cfg.antigen_self_test_probability_per_day > 0:
            # Self-tests may come from anyone free: decide for every agent (one byte each), then gather.
            chunk_tests = np.zeros(SCAN_CHUNKS, dtype=np.int64)
            chunk_antigen = np.zeros(SCAN_CHUNKS, dtype=np.int64)
            kind_all = state.stores.get("individual_test_kind")
            if kind_all is None or kind_all.size != state.size:  # scratch, 1 byte per agent, kept between days
                kind_all = state.stores["individual_test_kind"] = np.empty(state.size, dtype=np.int8)
            classify_individual_tests(rules, people, kind_all, chunk_tests, chunk_antigen)
            counts[TestingCounter.ANTIGEN_TESTS_TODAY] += int(chunk_antigen.sum())
            offsets = np.zeros(SCAN_CHUNKS + 1, dtype=np.int64)
            np.cumsum(chunk_tests, out=offsets[1:])
            ids = np.empty(int(offsets[-1]), dtype=np.int32)
            kinds = np.empty(ids.size, dtype=np.int8)
            gather_individual_tests(kind_all, offsets, ids, kinds)
        else:
            # Only the quarantined, the symptomatic and the workers due for screening can be swabbed:
            # decide for them alone (same rules, same order as the full scan).
            active = infected_agents(state)
            candidates = _union(quarantined_agents(state.quarantine_status),
                                symptomatic_agents(active.ids, active.count, state.compartment))
            for due in self._screening_due(state, day, screen_of_sector):
                candidates = _union(candidates, due)
            kinds = np.empty(candidates.size, dtype=np.int8)
            with threads_for(candidates.size, minimum=5_000):
                classify_listed_tests(candidates, rules, people, kinds)  # (no antigen self-tests on this path)
            ids = candidates  # with kind -1 for those not swabbed
        # The swabbed, grouped for their tubes (singles in agent order, then each screening config's
        # workers by workplace), in one counting sort that also sets their day_last_swab.
        workplaces = state.groups.workplace_count
        ids, group_start, bucket_end = group_swabbed(ids, kinds, len(screening), state.workplace_id, workplaces, day,
                                                     state.day_last_swab)
        if ids.size == 0:
            return []
        counts[TestingCounter.SWABBED_TODAY] += ids.size
        batches = []
        single = ids[group_start[0] : group_start[1]]
        if single.size:
            batches.append(self._tube_batch(state, single, np.arange(single.size + 1, dtype=np.int64), day, rng))
        for index, config in enumerate(screening):
            workers = ids[group_start[1 + index] : group_start[2 + index]]
            if workers.size == 0:
                continue
            # Tubes of pool_size workers of one workplace: cut from each workplace's run of workers.
            tube_start = tubes_of_buckets(bucket_end, 1 + index * workplaces, workplaces, config.pool_size)
            batches.append(self._tube_batch(state, workers, tube_start, day, rng))
        return batches

    def _screening_due(self, state: PopulationState, day: int, screen_of_sector: np.ndarray) -> list[np.ndarray]:
        """Per sector-screening config that has started, the workers whose staggered turn is today,
        ascending int32 (whether they are free and their workplace open is checked by the kernel).

        The workers of each config, bucketed by ``agent % interval``, are listed once per screening
        configuration (``testing_screened_workers`` store) -- a worker's sector and workplace never change.
        """
        screening = self.config.sector_screening
        signature = repr([(s.sectors, s.interval_days) for s in screening])
        cached = state.stores.get("testing_screened_workers")
        if cached is None or cached[0] != signature:
            buckets = [screened_workers_by_turn(state.workplace_id, state.sector, screen_of_sector, index,
                                                config.interval_days) for index, config in enumerate(screening)]
            cached = state.stores["testing_screened_workers"] = (signature, buckets)
        due = []
        for config, (workers, offsets) in zip(screening, cached[1]):
            if day >= config.start_day:
                residue = (day - config.start_day) % config.interval_days
                due.append(workers[offsets[residue] : offsets[residue + 1]])
        return due

    def _tube_batch(self, state: PopulationState, ids: np.ndarray, tube_start: np.ndarray, day: int,
                    rng: np.random.Generator) -> TubeBatch:
        """Tubes of samples swabbed today, with their lab outcome drawn from the samples' viral loads.

        Parameters
        ----------
        ids : (m,) int32
            Agents swabbed, tube by tube.
        tube_start : (t + 1,) int64
            Tube j holds ``ids[tube_start[j]:tube_start[j + 1]]``.
        """
        cfg = self.config
        tubes = tube_start.size - 1
        flags = np.zeros(tubes, dtype=np.int8)
        ever = state.stores.get("testing_viral_blocks")
        if ever is None:  # not inside a step
            ever = _ever_detectable_blocks(state)
        positions, loads = viral_samples(
            day, ids, state.day_viral_detectable, state.day_viral_peak, state.day_viral_clear, state.viral_peak_log10,
            self.viral_load.detection_limit_log10, ever,
        )
        infected_tubes = np.zeros(0, dtype=np.int64)
        if positions.size:
            if cfg.swab_log10_sd > 0:
                loads = loads + rng.normal(0.0, cfg.swab_log10_sd, loads.size)
            if cfg.swab_failure_fraction > 0:  # a failed swab adds no virus to its tube
                loads = np.where(rng.random(loads.size) < cfg.swab_failure_fraction, -np.inf, loads)
            tube_of_sample = np.searchsorted(tube_start, positions, side="right") - 1
            first = np.flatnonzero(np.r_[True, tube_of_sample[1:] != tube_of_sample[:-1]])
            infected_tubes = tube_of_sample[first]
            copies = np.add.reduceat(10.0 ** loads, first)
            size = (tube_start[infected_tubes + 1] - tube_start[infected_tubes]).astype(np.float64)
            with np.errstate(divide="ignore"):  # a tube of failed swabs only: no copies, never positive
                tube_load = np.log10(copies / size)
            excess = tube_load - cfg.limit_of_detection_log10
            if cfg.detection_slope_log10 > 0:
                probability = 1.0 / (1.0 + np.exp(-np.clip(excess / cfg.detection_slope_log10, -700, 700)))
            else:
                probability = (excess >= 0).astype(np.float64)
            flags[infected_tubes[rng.random(infected_tubes.size) < probability]] = FLAG_POSITIVE
        clean = tubes - infected_tubes.size
        if clean and cfg.specificity < 1:
            false = rng.binomial(clean, 1.0 - cfg.specificity)
            if false:
                # the c-th clean tube is tube c + (infected tubes before it)
                chosen = np.sort(rng.choice(clean, size=false, replace=False))
                shifted = infected_tubes - np.arange(infected_tubes.size)
                chosen = chosen + np.searchsorted(shifted, chosen, side="right")
                flags[chosen] = FLAG_POSITIVE | FLAG_FALSE_POSITIVE
        return TubeBatch(np.full(tubes, day, dtype=np.int16), flags, tube_start, ids.astype(np.int32, copy=False))

    def _run_lab(self, state: PopulationState, day: int) -> None:
        """Process up to the lab capacity: priority lane first, then the mass lane."""
        queue: LabQueue = state.lab_queue
        capacity = lab_capacity(self.config, state)
        taken = queue.take(queue.priority, capacity)
        remaining = None if capacity is None else capacity - sum(b.tube_count for b in taken)
        taken += queue.take(queue.mass, remaining)
        for batch in taken:  # kept as batches (no copy); the reporting day joins them in this order
            if batch.tube_count:
                batch.due_day = day + self.config.result_delay_days
                queue.reporting.append(batch)
                state.testing_counts[TestingCounter.TUBES_PROCESSED_TODAY] += batch.tube_count

    def _report_results(self, state: PopulationState, day: int, rng: np.random.Generator) -> None:
        """Apply the results due today; swab members of positive pools for their individual re-test."""
        queue: LabQueue = state.lab_queue
        due = [batch for batch in queue.reporting if batch.due_day <= day]
        if not due:
            return
        queue.reporting = [batch for batch in queue.reporting if batch.due_day > day]
        counts = state.testing_counts
        retest = self.config.retest_pool_members
        confirm = self.config.confirm_single_positives
        room = 0
        for batch in due:
            sizes = np.diff(batch.member_start)
            positive = (batch.flags & FLAG_POSITIVE) != 0
            room += int(sizes[positive & (sizes > 1)].sum()) if retest else 0
            room += int((positive & (sizes == 1)).sum()) if confirm else 0
        retest_out = np.empty(room, dtype=np.int64)
        # The day's batches in order, pass by pass: the same as joining them, without copying members.
        totals = np.zeros(4, dtype=np.int64)
        agents = (state.test_result, state.day_last_result, state.consecutive_negatives, state.day_detected,
                  state.is_community_case, state.quarantine_status, state.compound_id, state.compound_case_level,
                  state.district_id, state.testing_cases_district, retest_out, totals, confirm)
        for stage in (1, 2, 3):
            for batch in due:  # a packed batch is read in place, never unpacked
                tubes = (stage, day, batch.swab_day, batch.flags, batch.member_start)
                if batch.packed_base >= 0:
                    apply_packed_result_stage(*tubes, batch.members, batch.packed_base, retest, *agents)
                else:
                    apply_distinct_result_stage(*tubes, batch.members, retest, *agents)
        new_cases, false_positives, turnaround, retests = (int(value) for value in totals)
        counts[TestingCounter.TUBES_REPORTED_TODAY] += sum(batch.tube_count for batch in due)
        counts[TestingCounter.CASES_TODAY] += new_cases
        counts[TestingCounter.CUMULATIVE_CASES] += new_cases
        counts[TestingCounter.FALSE_POSITIVES_TODAY] += false_positives
        counts[TestingCounter.TURNAROUND_SUM_TODAY] += turnaround
        if retests:
            members = _sorted_unique(retest_out[:retests]).astype(np.int32)
            state.day_last_swab[members] = day
            counts[TestingCounter.SWABBED_TODAY] += members.size
            counts[TestingCounter.RETESTS_TODAY] += members.size
            queue.priority.append(
                self._tube_batch(state, members, np.arange(members.size + 1, dtype=np.int64), day, rng)
            )

    # -- results of tests taken elsewhere ---------------------------------------------------------
    def record_results(self, state: PopulationState, rows: np.ndarray, positive: np.ndarray, day: int, *,
                       community: bool | np.ndarray = True, requests_taken: bool = False) -> None:
        """Record single PCRs of ``rows`` taken outside this component's lanes (the region's travel
        tests) and reported on ``day``; see :func:`record_pcr_results`. They are not counted in this
        component's series (``tests_swabbed``, ``cases_detected``)."""
        record_pcr_results(state, rows, positive, day, community, requests_taken)

    # -- outputs --------------------------------------------------------------------------------
    def report(self, state: PopulationState, day: int) -> dict[str, float | np.ndarray]:
        counts = state.testing_counts
        reported = counts[TestingCounter.TUBES_REPORTED_TODAY]
        return {
            "tests_swabbed": float(counts[TestingCounter.SWABBED_TODAY]),
            "tubes_processed": float(counts[TestingCounter.TUBES_PROCESSED_TODAY]),
            "lab_backlog": float(counts[TestingCounter.LAB_BACKLOG]),
            "cases_detected": float(counts[TestingCounter.CASES_TODAY]),
            "false_positives": float(counts[TestingCounter.FALSE_POSITIVES_TODAY]),
            "turnaround_days": float(counts[TestingCounter.TURNAROUND_SUM_TODAY] / reported) if reported else 0.0,
            "antigen_tests": float(counts[TestingCounter.ANTIGEN_TESTS_TODAY]),
            "swabs_pending": float(counts[TestingCounter.PENDING_REQUESTS]),
            "pool_retests": float(counts[TestingCounter.RETESTS_TODAY]),
            "cases_detected_district": state.testing_cases_district.astype(np.float64),
        }

    def check(self, state: PopulationState, day: int) -> None:
        """Check mode: no counter below zero, the lab within its capacity, the backlog equal to the tubes
        queued, and every campaign swab request swabbed, cancelled or still pending."""
        counts = state.testing_counts
        negative = [slot.name for slot in TestingCounter if counts[slot] < 0]
        require(not negative, "testing_counts_non_negative", day,
                f"{negative[:1] and negative[0]} is {counts[TestingCounter[negative[0]]] if negative else 0}")
        queue: LabQueue = state.lab_queue
        queued = queue.waiting()
        require(counts[TestingCounter.LAB_BACKLOG] == queued, "lab_backlog", day,
                f"lab_backlog is {counts[TestingCounter.LAB_BACKLOG]}, {queued} tubes are queued")
        capacity = lab_capacity(self.config, state)
        processed = int(counts[TestingCounter.TUBES_PROCESSED_TODAY])
        require(capacity is None or processed <= capacity, "lab_capacity", day,
                f"{processed} tubes processed against a capacity of {capacity} a day")
        requested, swabbed, cancelled, pending = (int(counts[slot]) for slot in (
            TestingCounter.REQUESTED_TOTAL, TestingCounter.CAMPAIGN_SWABBED_TOTAL, TestingCounter.CANCELLED_TOTAL,
            TestingCounter.PENDING_REQUESTS))
        require(requested == swabbed + cancelled + pending, "swab_requests_conserved", day,
                f"{requested} requested, {swabbed} swabbed + {cancelled} cancelled + {pending} pending")
