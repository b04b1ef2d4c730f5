"""Policy layer: Numba kernels of the mass-testing component (swab requests, swab-station capacity,
pooling, sample viral loads, individual tests, result reporting).

Layer ``policy`` -- imports numpy, numba, population codes and the lower layers' kernels
(``disease.kernels.log10_viral_load``, ``transmission.kernels.hash_uniform``) only. Every kernel
has a NumPy reference in ``tests/policy/test_testing.py``.

Determinism: random decisions taken inside a kernel are counter-based hashes of (call seed, agent
index, stream), never per-thread streams; parallel loops run over a fixed partition (subdistricts or
``SCAN_CHUNKS`` chunks) and write only their own agents or their own slot of an output, so every
result is the same whatever ``NUMBA_NUM_THREADS`` is.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from zerosim.disease.kernels import log10_viral_load
from zerosim.population.kernels import SCAN_BLOCK, SCAN_CHUNKS, block_matches, blocks_with
from zerosim.population.state import Compartment, IsolationStatus, Mobility, QuarantineStatus, TestResult
from zerosim.transmission.kernels import hash_uniform

_DEAD = np.int8(Compartment.DEAD)
_MILD = np.int8(Compartment.MILD)
_CRITICAL = np.int8(Compartment.CRITICAL)
_ISOLATED = np.int8(IsolationStatus.ISOLATED)
_FREE = np.int8(Mobility.FREE)
_Q_NONE = np.int8(QuarantineStatus.NONE)
_Q_CENTRAL = np.int8(QuarantineStatus.CENTRAL)
_Q_HOME = np.int8(QuarantineStatus.HOME)
_NEGATIVE = np.int8(TestResult.NEGATIVE)
_POSITIVE = np.int8(TestResult.POSITIVE)
_PENDING_RETEST = np.int8(TestResult.PENDING_RETEST)
_CONTROLLED = 2  # ZoneLevel.CONTROLLED
_NO_REQUEST = np.int16(-1)  # day_swab_requested of an agent without a pending request

#: Bits of a tube's ``flags``: the lab reads it positive; it is positive without an infected sample.
FLAG_POSITIVE = np.int8(1)
FLAG_FALSE_POSITIVE = np.int8(2)

#: Hash streams of the per-agent draws (the call seed changes every call).
STREAM_SYMPTOMATIC = 1
STREAM_ANTIGEN_TAKEN = 2
STREAM_ANTIGEN_RESULT = 3
STREAM_CAMPAIGN = 16  # + campaign index

#: What decides an individual PCR swab today (:func:`classify_individual_tests`): the day and its random
#: seed, fever-clinic and antigen self-test probabilities, the assays' limits, the quarantine test days
#: and the sector screening plan.
TestRules = namedtuple("TestRules", [
    "day", "seed", "symptomatic_probability", "antigen_probability", "antigen_limit_log10", "detection_limit_log10",
    "quarantine_test_day", "screen_of_sector", "screen_start_day", "screen_interval_days"])
#: The per-agent arrays an individual test decision reads.
TestedPeople = namedtuple("TestedPeople", [
    "compartment", "mobility", "day_detected", "isolation_status", "quarantine_status", "day_quarantine_start",
    "day_last_swab", "day_last_result", "sector", "workplace_id", "workplace_is_open", "day_viral_detectable",
    "day_viral_peak", "day_viral_clear", "viral_peak_log10"])

#: ``kind`` codes of :func:`classify_individual_tests`: a single priority tube; sector screening s is 1 + s.
KIND_SINGLE = 0

_NO_THRESHOLD = np.int64(1 << 40)  # a request day above any int16 day: "take every pending request"

#: Agents whose request draws are made together (:func:`_request_span`): 4 KiB of draws.
REQUEST_DRAW_BLOCK = 512

#: Members of a packed tube batch read into agent ids at a time when its results are applied (256 KiB).
PACKED_READ_MEMBERS = 1 << 16

#: Index of the bit set in a byte with one bit set (``_LOWEST_BIT[1 << k] == k``), for reading packed members.
_LOWEST_BIT = np.zeros(129, dtype=np.int64)
_LOWEST_BIT[[1 << k for k in range(8)]] = np.arange(8)

#: Bytes of a packed set per block of its member count index (:func:`_block_members`).
PACKED_SEEK_BLOCK = 4096

#: Bits set in each byte value.
_BITS_SET = np.array([bin(value).count("1") for value in range(256)], dtype=np.int64)


# -- campaign requests -----------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def request_swabs(
    day,
    seed,
    stream,
    coverage,
    lo,
    hi,
    pool_size,
    age,
    compartment,
    isolation_status,
    day_swab_requested,
    swab_pool_size,
    is_compliant_today,
):
    """Request a swab today for the residents ``lo .. hi-1`` (a city, district, subdistrict or compound).

    An agent is requested if it is alive, not isolated in a facility, has
    no request pending from an earlier day, and ``hash_uniform(seed, agent, stream, 0) <
    coverage[age band]`` (10-year bands, last open-ended).
    An agent already requested today (by another campaign) keeps its request and takes the smaller
    of the two pool sizes.

    Parameters
    ----------
    day : int
    seed : uint64
        Call seed (fresh from the component's Generator).
    stream : int
        Hash stream of this campaign (``STREAM_CAMPAIGN + campaign index``).
    coverage : (bands,) float64
        Share of targeted residents requested, by 10-year age band.
    lo, hi : int
        Agent range targeted.
    pool_size : int
        Pool size of this campaign, stored per requested agent.
    age : (n,) uint8
    compartment, isolation_status : (n,) int8
    day_swab_requested : (n,) int16, updated in place (-1 = no request)
    swab_pool_size : (n,) int8, updated in place
    is_compliant_today : (n,) int8
        Agents not complying today (0) skip the round.

    Returns
    -------
    int
        Number of new requests (agents whose ``day_swab_requested`` went from -1 to ``day``).
    """
    span = hi - lo
    counts = np.zeros(SCAN_CHUNKS, dtype=np.int64)
    chunk = (span + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        start = lo + c * chunk
        stop = min(hi, start + chunk)
        counts[c] = _request_span(start, stop, day, seed, stream, coverage, pool_size, age, compartment,
                                  isolation_status, day_swab_requested, swab_pool_size, is_compliant_today)
    return counts.sum()


@njit(cache=True, nogil=True, parallel=True)
def request_swabs_in_compounds(
    day,
    seed,
    stream,
    coverage,
    compounds,
    compound_start,
    pool_size,
    age,
    compartment,
    isolation_status,
    day_swab_requested,
    swab_pool_size,
    is_compliant_today,
):
    """:func:`request_swabs` for the residents of the compounds ``compounds`` (int64 ids; agents of
    compound k are ``compound_start[k] .. compound_start[k + 1] - 1``): a zone-level round visits its
    compounds only, wherever they are in the city."""
    m = compounds.size
    counts = np.zeros(SCAN_CHUNKS, dtype=np.int64)
    chunk = (m + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        count = 0
        for u in range(c * chunk, min(m, (c + 1) * chunk)):
            k = compounds[u]
            count += _request_span(compound_start[k], compound_start[k + 1], day, seed, stream, coverage, pool_size,
                                   age, compartment, isolation_status, day_swab_requested, swab_pool_size,
                                   is_compliant_today)
        counts[c] = count
    return counts.sum()


@njit(cache=True, nogil=True)
def _request_span(start, stop, day, seed, stream, coverage, pool_size, age, compartment, isolation_status,
                  day_swab_requested, swab_pool_size, is_compliant_today):
    """Request the swabs of agents ``start .. stop - 1`` by the rules of :func:`request_swabs`; return
    the new requests. Without branches (every agent's two entries are written back, changed or not):
    the hash is drawn for all and the outcome of a coin with p = 0.85 is not predictable, so this is
    faster than stopping at the first failed check (5M agents: 38 -> 31 ms on one thread). The draws
    of a block of agents are made first, in a loop of their own that the compiler vectorises (25M
    draws: 42 -> 7.5 ms on one thread, AVX-512); the same draws as one at a time. A separate
    function, not inlined into the callers' prange bodies, where it compiles to slower code.
    """
    bands = coverage.size
    size = np.int8(pool_size)
    today = np.int16(day)
    count = 0
    draws = np.empty(min(REQUEST_DRAW_BLOCK, max(stop - start, 0)), dtype=np.float64)
    for block in range(start, stop, REQUEST_DRAW_BLOCK):
        end = min(stop, block + REQUEST_DRAW_BLOCK)
        for i in range(block, end):  # the draws alone: a loop the compiler vectorises (4-8 hashes at once)
            draws[i - block] = hash_uniform(seed, i, stream, 0)
        for i in range(block, end):
            requested = day_swab_requested[i]
            eligible = ((compartment[i] != _DEAD) & (isolation_status[i] != _ISOLATED) & (is_compliant_today[i] != 0)
                        & ((requested < 0) | (requested == today)))
            chosen = eligible & (draws[i - block] < coverage[min(age[i] // 10, bands - 1)])
            new = chosen & (requested != today)
            day_swab_requested[i] = today if chosen else requested
            current = swab_pool_size[i]
            swab_pool_size[i] = (size if new else min(current, size)) if chosen else current
            count += new
    return count


# -- swab stations ---------------------------------------------------------------------------------
@njit(cache=True, nogil=True, parallel=True)
def plan_swabs(
    subdistrict_start, capacity, compartment, isolation_status, day_swab_requested, take, threshold_day, threshold_take
):
    """Per subdistrict: how many pending requests are swabbed today, oldest request first.

    A request is *valid* if its agent is alive and not isolated in a facility (the others are
    cancelled by :func:`take_swabs`). With ``n`` valid requests and capacity ``cap`` (-1 =
    unlimited), ``min(n, cap)`` are taken: every request made before ``threshold_day``, plus the
    first ``threshold_take`` (in agent order) of those made on ``threshold_day``.

    Blocks of ``SCAN_BLOCK`` agents without a request (most of the city on the days without a
    citywide round) are skipped, found by one serial pass (:func:`blocks_with`); so are they in
    :func:`take_swabs`.

    Parameters
    ----------
    subdistrict_start : (S + 1,) int64
        Agent offsets of the subdistricts (agents are sorted by residence).
    capacity : (S,) int64
        Swabs per day of each subdistrict; -1 = unlimited.
    compartment, isolation_status : (n,) int8
    day_swab_requested : (n,) int16 (-1 = none)
    take, threshold_day, threshold_take : (S,) int64, written
    """
    subdistricts = capacity.size
    busy = blocks_with(day_swab_requested, _NO_REQUEST, True)
    for s in prange(subdistricts):
        lo = subdistrict_start[s]
        hi = subdistrict_start[s + 1]
        valid = 0
        first = 1 << 30
        last = -1
        base = lo
        while base < hi:
            stop = min(hi, (base // SCAN_BLOCK + 1) * SCAN_BLOCK)
            if busy[base // SCAN_BLOCK]:  # (blocks where nobody has a request are skipped)
                counted, low, high = _valid_requests(base, stop, compartment, isolation_status, day_swab_requested)
                valid += counted
                first = min(first, low)
                last = max(last, high)
            base = stop
        cap = capacity[s]
        if cap < 0 or valid <= cap:
            take[s] = valid
            threshold_day[s] = _NO_THRESHOLD
            threshold_take[s] = 0
            continue
        histogram = np.zeros(last - first + 1, dtype=np.int64)
        for i in range(lo, hi):
            requested = day_swab_requested[i]
            if requested < 0 or compartment[i] == _DEAD or isolation_status[i] == _ISOLATED:
                continue
            histogram[requested - first] += 1
        remaining = cap
        d = 0
        while histogram[d] <= remaining:  # stops: the histogram sums to valid > cap
            remaining -= histogram[d]
            d += 1
        take[s] = cap
        threshold_day[s] = first + d
        threshold_take[s] = remaining


@njit(cache=True, nogil=True)
def _valid_requests(start, stop, compartment, isolation_status, day_swab_requested):
    """The valid requests of agents ``start .. stop - 1`` (:func:`plan_swabs`): their number and the
    earliest and latest request day (``1 << 30`` and -1 if none). Without branches, so the compiler
    vectorises it (25M agents: 33 -> 12 ms); a separate function, not inlined into the prange body,
    where it would not be."""
    valid = 0
    first = 1 << 30
    last = -1
    for i in range(start, stop):
        requested = np.int64(day_swab_requested[i])
        ok = (requested >= 0) & (compartment[i] != _DEAD) & (isolation_status[i] != _ISOLATED)
        valid += ok
        first = min(first, requested if ok else 1 << 30)
        last = max(last, requested if ok else -1)
    return valid, first, last


@njit(cache=True, nogil=True, parallel=True)
def take_swabs(
    day,
    subdistrict_start,
    offsets,
    threshold_day,
    threshold_take,
    compartment,
    isolation_status,
    day_swab_requested,
    day_last_swab,
    out_ids,
    cancelled,
):
    """Swab the requests chosen by :func:`plan_swabs`; cancel the requests of the dead and isolated.

    Swabbed agents get ``day_last_swab = day`` and ``day_swab_requested = -1`` and are written, in
    agent order, to ``out_ids[offsets[s]:offsets[s + 1]]`` for subdistrict s.

    Parameters
    ----------
    day : int
    subdistrict_start : (S + 1,) int64
    offsets : (S + 1,) int64
        Exclusive prefix sum of ``take`` from :func:`plan_swabs`.
    threshold_day, threshold_take : (S,) int64
        From :func:`plan_swabs`.
    compartment, isolation_status : (n,) int8
    day_swab_requested, day_last_swab : (n,) int16, updated in place
    out_ids : (offsets[-1],) int32, written
    cancelled : (S,) int64, written: requests cancelled today per subdistrict
    """
    subdistricts = threshold_day.size
    busy = blocks_with(day_swab_requested, _NO_REQUEST, True)
    for s in prange(subdistricts):
        lo = subdistrict_start[s]
        hi = subdistrict_start[s + 1]
        position = offsets[s]
        stop = offsets[s + 1]
        threshold = threshold_day[s]
        extra = threshold_take[s]
        dropped = 0
        base = lo
        while base < hi:
            end = min(hi, (base // SCAN_BLOCK + 1) * SCAN_BLOCK)
            if not busy[base // SCAN_BLOCK]:  # nobody in the block has a request
                base = end
                continue
            for i in range(base, end):
                requested = day_swab_requested[i]
                if requested < 0:
                    continue
                if compartment[i] == _DEAD or isolation_status[i] == _ISOLATED:
                    day_swab_requested[i] = -1
                    dropped += 1
                    continue
                chosen = requested < threshold
                if not chosen and requested == threshold and extra > 0:
                    extra -= 1
                    chosen = True
                if chosen and position < stop:
                    out_ids[position] = i
                    position += 1
                    day_swab_requested[i] = -1
                    day_last_swab[i] = day
            base = end
        cancelled[s] = dropped


# -- pooling ---------------------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def screened_workers_by_turn(workplace_id, sector, screen_of_sector, index, interval):
    """The workers screened by screening config ``index`` (``workplace_id`` >= 0 and
    ``screen_of_sector[sector] == index``), grouped by turn ``agent % interval`` and ascending within
    a turn: (members int32, offsets (interval + 1,) int64), turn r being
    ``members[offsets[r]:offsets[r + 1]]``. A counting sort in two passes (no per-agent temporaries)."""
    offsets = np.zeros(interval + 1, dtype=np.int64)
    for i in range(workplace_id.size):
        if workplace_id[i] >= 0 and screen_of_sector[sector[i]] == index:
            offsets[i % interval + 1] += 1
    for r in range(interval):
        offsets[r + 1] += offsets[r]
    members = np.empty(offsets[interval], dtype=np.int32)
    filled = offsets[:interval].copy()
    for i in range(workplace_id.size):
        if workplace_id[i] >= 0 and screen_of_sector[sector[i]] == index:
            r = i % interval
            members[filled[r]] = i
            filled[r] += 1
    return members, offsets


@njit(cache=True, nogil=True)
def form_pools(
    ids, group_of_agent, pool_size_of_agent, fixed_pool_size, household_id, household_mode_of_group, tube_start
):
    """Cut the samples ``ids`` (in order) into tubes; return the number of tubes.

    A tube holds consecutive samples of one group (a compound, or a workplace for sector
    screening) and one pool size; it is full at k samples. In a group whose
    ``household_mode_of_group`` is non-zero (a sealed compound with household pooling), a tube is
    instead one household's consecutive samples, whatever their number.

    Parameters
    ----------
    ids : (m,) int32 or int64
        Agent index of each sample; samples of one group (and of one household) are consecutive.
    group_of_agent : (n,) int32
        Group of each agent (``compound_id`` or ``workplace_id``).
    pool_size_of_agent : (n,) int8
        Pool size of each agent's request; ignored if ``fixed_pool_size`` > 0.
    fixed_pool_size : int
        Pool size of every sample, or 0 to read ``pool_size_of_agent``.
    household_id : (n,) int32
    household_mode_of_group : (groups,) int8
    tube_start : (m + 1,) int64, written
        Tube t holds samples ``tube_start[t] .. tube_start[t + 1] - 1``; entries past the returned
        count + 1 are untouched. An empty array only counts the tubes (call again with
        ``count + 1`` entries to fill them: no per-sample buffer).

    Returns
    -------
    int
        Number of tubes.
    """
    m = ids.size
    write = tube_start.size > 0
    tubes = 0
    in_tube = 0
    previous_group = -1
    previous_household = -1
    previous_size = -1
    for p in range(m):
        i = ids[p]
        group = group_of_agent[i]
        size = fixed_pool_size if fixed_pool_size > 0 else pool_size_of_agent[i]
        by_household = household_mode_of_group[group] != 0
        household = household_id[i] if by_household else -1
        new = (
            p == 0
            or group != previous_group
            or size != previous_size
            or (by_household and household != previous_household)
            or (not by_household and in_tube >= size)
        )
        if new:
            if write:
                tube_start[tubes] = p
            tubes += 1
            in_tube = 0
        in_tube += 1
        previous_group = group
        previous_household = household
        previous_size = size
    if write:
        tube_start[tubes] = m
    return tubes


# -- sample viral loads ----------------------------------------------------------------------------
@njit(cache=True, nogil=True)
def viral_samples(
    day, ids, day_viral_detectable, day_viral_peak, day_viral_clear, viral_peak_log10, detection_limit_log10, ever
):
    """The samples with a detectable viral load today: their positions in ``ids`` and log10 loads.

    Parameters
    ----------
    day : int
    ids : (m,) int32 or int64
        Agent index of each sample.
    day_viral_detectable, day_viral_peak, day_viral_clear : (n,) int16
    viral_peak_log10 : (n,) float32
    detection_limit_log10 : float
        The disease layer's limit of detection (the trajectory's floor).
    ever : (ceil(n / SCAN_BLOCK),) bool
        ``blocks_with(day_viral_detectable, -1, True)``: the blocks of agents of whom someone was ever
        detectable. Samples of the other blocks (most of a contained city) are skipped with a
        look-up in this small table instead of a read of their own day. Made once a day by the
        caller (it reads the whole array).

    Returns
    -------
    positions : (v,) int64
        Increasing positions p (into ``ids``) of the samples with load > 0.
    loads : (v,) float64
        Their log10 viral load (copies/mL), from ``log10_viral_load``.
    """
    m = ids.size
    found = np.empty(m, dtype=np.int64)  # room for every sample; only the pages written become resident
    count = 0
    for p in range(m):
        i = ids[p]
        if not ever[i // SCAN_BLOCK]:
            continue
        detectable = day_viral_detectable[i]
        if detectable >= 0 and detectable <= day and day <= day_viral_clear[i]:
            found[count] = p
            count += 1
    positions = found[:count].copy()
    loads = np.empty(count, dtype=np.float64)
    for k in range(count):
        i = ids[positions[k]]
        loads[k] = log10_viral_load(
            day, day_viral_detectable[i], day_viral_peak[i], day_viral_clear[i], viral_peak_log10[i],
            detection_limit_log10,
        )
    # A load of exactly 0 (a course whose floor is 0) is no sample: drop those.
    keep = loads > 0.0
    if keep.all():
        return positions, loads
    return positions[keep], loads[keep]


# -- individual tests (priority lane) --------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _individual_test(
    i, day, seed, symptomatic_probability, antigen_probability, antigen_limit_log10, detection_limit_log10,
    quarantine_test_day, screen_of_sector, screen_start_day, screen_interval_days,
    compartment, mobility, day_detected, isolation_status, quarantine_status, day_quarantine_start, day_last_swab,
    day_last_result, sector, workplace_id, workplace_is_open, day_viral_detectable, day_viral_peak, day_viral_clear,
    viral_peak_log10,
):
    """(kind, took an antigen test) of agent i today; kind -1 = no PCR swab.

    The checks are ordered so that the common agent (free, undetected, not screened today) is
    settled with few reads; the per-agent state of detection and outstanding results is read only
    on the paths that need it. The arguments after ``i`` are the fields of a :class:`TestRules` and
    a :class:`TestedPeople`, unpacked by the calling kernel once, before its loop: an array taken
    out of a tuple inside the loop costs a reference-count update per agent (atomic, shared by the
    threads), which made the listed tests six times slower.
    """
    if compartment[i] == _DEAD or isolation_status[i] == _ISOLATED:
        return -1, False
    # Antigen self-test: free, not yet detected residents.
    took_antigen = False
    antigen_positive = False
    if antigen_probability > 0.0 and mobility[i] == _FREE and day_detected[i] < 0:
        if hash_uniform(seed, i, STREAM_ANTIGEN_TAKEN, 0) < antigen_probability:
            took_antigen = True
            load = log10_viral_load(
                day, day_viral_detectable[i], day_viral_peak[i], day_viral_clear[i], viral_peak_log10[i],
                detection_limit_log10,
            )
            if load > 0.0:
                probability = 1.0 / (1.0 + math.exp(-(load - antigen_limit_log10) / 0.5))
                antigen_positive = hash_uniform(seed, i, STREAM_ANTIGEN_RESULT, 0) < probability
    # Quarantine test days (day 1 = first day of the current quarantine phase).
    q = quarantine_status[i]
    if (q == _Q_CENTRAL or q == _Q_HOME) and day_quarantine_start[i] >= 0:
        quarantine_day = day - day_quarantine_start[i] + 1
        if quarantine_day >= 0 and quarantine_day < quarantine_test_day.size and quarantine_test_day[quarantine_day]:
            return KIND_SINGLE, took_antigen
    # Fever clinic: symptomatic, not yet detected, no PCR result outstanding.
    c = compartment[i]
    if symptomatic_probability > 0.0 and c >= _MILD and c <= _CRITICAL:
        if day_detected[i] < 0 and day_last_swab[i] <= day_last_result[i]:
            if hash_uniform(seed, i, STREAM_SYMPTOMATIC, 0) < symptomatic_probability:
                return KIND_SINGLE, took_antigen
    if antigen_positive and day_last_swab[i] <= day_last_result[i]:
        return KIND_SINGLE, took_antigen
    # Routine sector screening at an open workplace, staggered by agent index.
    w = workplace_id[i]
    if w >= 0:
        s = screen_of_sector[sector[i]]
        if s >= 0 and day >= screen_start_day[s] and mobility[i] == _FREE and workplace_is_open[w] != 0:
            interval = screen_interval_days[s]
            if (day - screen_start_day[s]) % interval == i % interval:
                return 1 + s, took_antigen
    return -1, took_antigen


@njit(cache=True, nogil=True, parallel=True)
def classify_individual_tests(rules, people, kind_out, chunk_tests, chunk_antigen):
    """Decide today's individual PCR swabs: each agent's kind into ``kind_out`` (n,) int8 (-1: none),
    and per chunk of ``SCAN_CHUNKS`` the swabs and antigen self-tests into ``chunk_tests`` /
    ``chunk_antigen`` (SCAN_CHUNKS,) int64; :func:`gather_individual_tests` then lists the swabbed from
    one byte per agent.

    Nobody dead or isolated in a facility is swabbed. In order of precedence an agent gets:

    * a single tube (``KIND_SINGLE``) on a quarantine test day (status CENTRAL or HOME, day number
      ``day - day_quarantine_start + 1`` flagged in ``quarantine_test_day``);
    * a single tube at a fever clinic: compartment MILD..CRITICAL, not yet detected, no PCR result
      outstanding (``day_last_swab > day_last_result``), with ``symptomatic_probability``;
    * a single tube after a positive antigen self-test (same conditions on detection and
      outstanding results). Free, not-yet-detected agents self-test with ``antigen_probability``;
      an infected one reads positive with probability
      ``logistic((log10 VL - antigen_limit_log10) / 0.5)``; the uninfected never do;
    * sector screening s (kind ``1 + s``): a worker of a screened sector at an open workplace,
      free to go out, on the days ``(day - start) % interval == agent % interval``.

    ``people`` (:class:`TestedPeople`) holds agent arrays (n,) with the schema dtypes; in ``rules``
    (:class:`TestRules`) ``quarantine_test_day`` (d,) bool is True at each quarantine day number with a
    test, ``screen_of_sector`` (sectors,) int8 gives the screening config of each Sector code (-1 none),
    ``screen_start_day`` / ``screen_interval_days`` (configs,) int64.
    Who is swabbed is decided by counter-based hashes, so the result does not depend on the threads.
    """
    (day, seed, symptomatic_probability, antigen_probability, antigen_limit_log10, detection_limit_log10,
     quarantine_test_day, screen_of_sector, screen_start_day, screen_interval_days) = rules
    (compartment, mobility, day_detected, isolation_status, quarantine_status, day_quarantine_start, day_last_swab,
     day_last_result, sector, workplace_id, workplace_is_open, day_viral_detectable, day_viral_peak, day_viral_clear,
     viral_peak_log10) = people
    n = compartment.size
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        start = c * chunk
        stop = min(n, start + chunk)
        tests = 0
        antigen = 0
        for i in range(start, stop):
            kind, took = _individual_test(
                i, day, seed, symptomatic_probability, antigen_probability, antigen_limit_log10, detection_limit_log10,
                quarantine_test_day, screen_of_sector, screen_start_day, screen_interval_days, compartment, mobility,
                day_detected, isolation_status, quarantine_status, day_quarantine_start, day_last_swab,
                day_last_result, sector, workplace_id, workplace_is_open, day_viral_detectable, day_viral_peak,
                day_viral_clear, viral_peak_log10,
            )
            kind_out[i] = kind
            if kind >= 0:
                tests += 1
            if took:
                antigen += 1
        chunk_tests[c] = tests
        chunk_antigen[c] = antigen


@njit(cache=True, nogil=True, parallel=True)
def gather_individual_tests(kind_all, chunk_offsets, out_ids, out_kind):
    """Agents with ``kind_all >= 0``, in agent order, into ``out_ids`` (int32) / ``out_kind`` (int8);
    ``chunk_offsets`` (SCAN_CHUNKS + 1,) from the counts of :func:`classify_individual_tests`."""
    n = kind_all.size
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        position = chunk_offsets[c]
        for i in range(c * chunk, min(n, (c + 1) * chunk)):
            kind = kind_all[i]
            if kind >= 0:
                out_ids[position] = i
                out_kind[position] = kind
                position += 1


@njit(cache=True, nogil=True, parallel=True)
def classify_listed_tests(candidates, rules, people, kind_out):
    """:func:`classify_individual_tests` for the agents ``candidates`` only (no antigen self-tests):
    each candidate's kind into ``kind_out`` (m,) int8, -1 = no swab.

    Equal to the full scan when ``candidates`` holds every agent who could be swabbed today: those in
    CENTRAL or HOME quarantine, those in MILD..CRITICAL, and the workers due for screening today
    (see :func:`quarantined_agents` and ``Testing._screening_due``).
    """
    (day, seed, symptomatic_probability, antigen_probability, antigen_limit_log10, detection_limit_log10,
     quarantine_test_day, screen_of_sector, screen_start_day, screen_interval_days) = rules
    (compartment, mobility, day_detected, isolation_status, quarantine_status, day_quarantine_start, day_last_swab,
     day_last_result, sector, workplace_id, workplace_is_open, day_viral_detectable, day_viral_peak, day_viral_clear,
     viral_peak_log10) = people
    m = candidates.size
    chunk = (m + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        for a in range(c * chunk, min(m, (c + 1) * chunk)):
            kind, _ = _individual_test(
                np.int64(candidates[a]), day, seed, symptomatic_probability, 0.0, antigen_limit_log10,
                detection_limit_log10, quarantine_test_day, screen_of_sector, screen_start_day, screen_interval_days,
                compartment, mobility, day_detected, isolation_status, quarantine_status, day_quarantine_start,
                day_last_swab, day_last_result, sector, workplace_id, workplace_is_open, day_viral_detectable,
                day_viral_peak, day_viral_clear, viral_peak_log10,
            )
            kind_out[a] = kind


@njit(cache=True, nogil=True)
def group_swabbed(ids, kinds, configs, workplace_id, workplace_count, day, day_last_swab):
    """The swabbed among ``ids`` (those with ``kinds`` >= 0), grouped for their tubes: first the single
    tubes (``KIND_SINGLE``) in the order of ``ids``, then for each screening config s the workers of
    kind ``1 + s`` ordered by ``workplace_id`` (stable: in the order of ``ids`` within a workplace).
    Sets their ``day_last_swab`` to ``day``. One counting sort on the key (kind, workplace), in place of
    a mask, a gather and a stable sort per group.

    Parameters
    ----------
    ids : (m,) int32
    kinds : (m,) int8 (-1: not swabbed)
    configs : int
        Screening configs (kinds 1 .. configs).
    workplace_id : (n,) int32; workplace_count : int
    day_last_swab : (n,) int16, updated

    Returns
    -------
    swabbed : (s,) int32
    group_start : (configs + 2,) int64
        Group 0 (singles) is ``swabbed[group_start[0]:group_start[1]]``, config s is group ``1 + s``.
    bucket_end : (1 + configs * workplace_count + 1,) int64
        Where each key's run ends in ``swabbed``: key 0 the singles, key ``1 + s * workplace_count + w``
        config s's workers of workplace w (for :func:`tubes_of_buckets`).
    """
    keys = 1 + configs * workplace_count
    starts = np.zeros(keys + 1, dtype=np.int64)
    for a in range(ids.size):
        kind = kinds[a]
        if kind < 0:
            continue
        key = 0 if kind == KIND_SINGLE else 1 + (kind - 1) * workplace_count + workplace_id[ids[a]]
        starts[key + 1] += 1
    for key in range(keys):
        starts[key + 1] += starts[key]
    group_start = np.empty(configs + 2, dtype=np.int64)
    for g in range(configs + 1):
        group_start[g] = starts[0 if g == 0 else 1 + (g - 1) * workplace_count]
    group_start[configs + 1] = starts[keys]
    swabbed = np.empty(starts[keys], dtype=np.int32)
    for a in range(ids.size):
        kind = kinds[a]
        if kind < 0:
            continue
        i = ids[a]
        key = 0 if kind == KIND_SINGLE else 1 + (kind - 1) * workplace_count + workplace_id[i]
        swabbed[starts[key]] = i
        starts[key] += 1
        day_last_swab[i] = day
    return swabbed, group_start, starts


@njit(cache=True, nogil=True)
def tubes_of_buckets(bucket_end, first_key, keys, pool_size):
    """Tube starts cutting the runs of keys ``first_key .. first_key + keys - 1`` (consecutive, key k
    ending at ``bucket_end[k]``, the first starting at ``bucket_end[first_key - 1]``) into tubes of
    ``pool_size`` consecutive samples, a run's last tube holding the rest: what :func:`form_pools`
    gives for a fixed pool size without household pools, from the run lengths alone (no read of the
    samples' workplaces). Offsets from the first run's start: (tubes + 1,) int64."""
    origin = bucket_end[first_key - 1]
    tubes = 0
    previous = origin
    for key in range(first_key, first_key + keys):
        tubes += (bucket_end[key] - previous + pool_size - 1) // pool_size
        previous = bucket_end[key]
    tube_start = np.empty(tubes + 1, dtype=np.int64)
    t = 0
    previous = origin
    for key in range(first_key, first_key + keys):
        for p in range(previous, bucket_end[key], pool_size):
            tube_start[t] = p - origin
            t += 1
        previous = bucket_end[key]
    tube_start[tubes] = previous - origin
    return tube_start


@njit(cache=True, nogil=True)
def quarantined_agents(quarantine_status):
    """Agents in CENTRAL or HOME quarantine, ascending, (q,) int32. Blocks of ``SCAN_BLOCK`` agents
    without any quarantine status (almost all of them) are skipped after one vectorised test."""
    n = quarantine_status.size
    count = 0
    for b in range((n + SCAN_BLOCK - 1) // SCAN_BLOCK):
        base = b * SCAN_BLOCK
        if base + SCAN_BLOCK <= n and not block_matches(quarantine_status, base, _Q_NONE, True):
            continue
        for i in range(base, min(n, base + SCAN_BLOCK)):
            q = quarantine_status[i]
            count += (q == _Q_CENTRAL) | (q == _Q_HOME)
    out = np.empty(count, dtype=np.int32)
    k = 0
    for b in range((n + SCAN_BLOCK - 1) // SCAN_BLOCK):
        base = b * SCAN_BLOCK
        if k == count:
            break
        if base + SCAN_BLOCK <= n and not block_matches(quarantine_status, base, _Q_NONE, True):
            continue
        for i in range(base, min(n, base + SCAN_BLOCK)):
            q = quarantine_status[i]
            if q == _Q_CENTRAL or q == _Q_HOME:
                out[k] = i
                k += 1
    return out


@njit(cache=True, nogil=True)
def symptomatic_agents(active, active_count, compartment):
    """Of the infected ``active[:active_count]`` (ascending), those in MILD..CRITICAL, (s,) int32."""
    out = np.empty(active_count, dtype=np.int32)
    k = 0
    for a in range(active_count):
        c = compartment[active[a]]
        if c >= _MILD and c <= _CRITICAL:
            out[k] = active[a]
            k += 1
    return out[:k]


# -- results ---------------------------------------------------------------------------------------
@njit(cache=True, nogil=True, inline="always")
def _detect(i, day, test_result, day_last_result, consecutive_negatives, day_detected, is_community_case,
            quarantine_status, compound_id, compound_case_level, district_id, cases_by_district):
    """Record a positive individual result for agent i; return 1 if it is a new case."""
    test_result[i] = _POSITIVE
    day_last_result[i] = day
    consecutive_negatives[i] = 0
    if day_detected[i] >= 0:
        return 0
    day_detected[i] = day
    restricted = compound_case_level[compound_id[i]] >= _CONTROLLED
    if quarantine_status[i] == _Q_NONE and not restricted:
        is_community_case[i] = 1  # a community ("social-level") case
    elif restricted and quarantine_status[i] != _Q_CENTRAL:
        is_community_case[i] = 2  # found at home in a sealed or controlled compound: the compound still has cases
    else:
        is_community_case[i] = 0
    cases_by_district[district_id[i]] += 1
    return 1


@njit(cache=True, nogil=True)
def apply_result_stage(
    stage,
    day,
    swab_day,
    flags,
    member_start,
    members,
    retest_pools,
    test_result,
    day_last_result,
    consecutive_negatives,
    day_detected,
    is_community_case,
    quarantine_status,
    compound_id,
    compound_case_level,
    district_id,
    cases_by_district,
    retest_out,
    counts,
    confirm_singles=False,
):
    """Report the results of a batch of tubes today, one pass (``stage`` 1, 2 or 3) at a time;
    sequential, so duplicates are handled in order.

    Running stage 1 over every batch of the day, then stage 2 over every batch, then stage 3, is the
    same as running the three on the batches joined, without copying their members; a positive
    reported the same day as a negative wins:

    1. negative tubes: each member gets ``day_last_result = day``; unless the member awaits an
       individual re-test and this tube is a pool, also ``test_result = NEGATIVE`` and
       ``consecutive_negatives += 1`` (capped at 127);
    2. positive single tubes, and positive pools when ``retest_pools`` is False: each member gets
       ``test_result = POSITIVE``, ``consecutive_negatives = 0``, and, if never detected,
       ``day_detected = day`` and ``is_community_case`` (1 if ``quarantine_status`` is NONE and its
       compound's case level is below CONTROLLED; 2 if that level is CONTROLLED or SEALED and the member is
       not in central quarantine; else 0). With ``confirm_singles``, a positive single tube
       of someone not already awaiting a re-test (and never detected) is not yet a case: the member
       gets ``PENDING_RETEST`` and a confirmatory re-test (appended to ``retest_out``); a second
       positive confirms the case;
    3. positive pools when ``retest_pools``: each member not found positive today gets
       ``test_result = PENDING_RETEST``, ``consecutive_negatives = 0`` and is appended to
       ``retest_out`` (it needs an individual re-test).

    Parameters
    ----------
    stage : int
    day : int
    swab_day : (t,) int16
    flags : (t,) int8
        ``FLAG_POSITIVE`` / ``FLAG_FALSE_POSITIVE`` bits.
    member_start : (t + 1,) int64
        Tube j holds ``members[member_start[j]:member_start[j + 1]]``; a tube of more than one
        member is a pool.
    members : (total,) int32
    retest_pools : bool
    test_result, consecutive_negatives, is_community_case : (n,) int8, updated in place
    day_last_result, day_detected : (n,) int16, updated in place
    quarantine_status : (n,) int8
    compound_id : (n,) int32
    compound_case_level : (compounds,) int8
    district_id : (n,) int8
    cases_by_district : (districts,) int64, incremented
    retest_out : (>= members of positive pools,) int64, written from ``counts[3]``
    counts : (4,) int64, incremented
        New cases, false-positive tubes, the sum over tubes of ``day - swab_day``, and the entries
        written to ``retest_out``.
    """
    tubes = swab_day.size
    if stage == 1:
        for j in range(tubes):
            counts[2] += day - swab_day[j]
            if flags[j] & FLAG_FALSE_POSITIVE:
                counts[1] += 1
            if flags[j] & FLAG_POSITIVE:
                continue
            pooled = member_start[j + 1] - member_start[j] > 1
            for p in range(member_start[j], member_start[j + 1]):
                i = members[p]
                day_last_result[i] = day
                if pooled and test_result[i] == _PENDING_RETEST:
                    continue
                test_result[i] = _NEGATIVE
                if consecutive_negatives[i] < 127:
                    consecutive_negatives[i] += 1
    elif stage == 2:
        for j in range(tubes):
            if not flags[j] & FLAG_POSITIVE:
                continue
            pooled = member_start[j + 1] - member_start[j] > 1
            if pooled and retest_pools:
                continue
            for p in range(member_start[j], member_start[j + 1]):
                i = members[p]
                if confirm_singles and not pooled and test_result[i] != _PENDING_RETEST and day_detected[i] < 0:
                    test_result[i] = _PENDING_RETEST
                    day_last_result[i] = day
                    consecutive_negatives[i] = 0
                    retest_out[counts[3]] = i
                    counts[3] += 1
                    continue
                counts[0] += _detect(
                    members[p], day, test_result, day_last_result, consecutive_negatives, day_detected,
                    is_community_case, quarantine_status, compound_id, compound_case_level, district_id,
                    cases_by_district,
                )
    elif retest_pools:
        for j in range(tubes):
            if not flags[j] & FLAG_POSITIVE or member_start[j + 1] - member_start[j] <= 1:
                continue
            for p in range(member_start[j], member_start[j + 1]):
                i = members[p]
                if test_result[i] == _POSITIVE and day_last_result[i] == day:
                    continue  # found positive individually today
                test_result[i] = _PENDING_RETEST
                day_last_result[i] = day
                consecutive_negatives[i] = 0
                retest_out[counts[3]] = i
                counts[3] += 1


@njit(cache=True, nogil=True, parallel=True)
def apply_distinct_result_stage(
    stage,
    day,
    swab_day,
    flags,
    member_start,
    members,
    retest_pools,
    test_result,
    day_last_result,
    consecutive_negatives,
    day_detected,
    is_community_case,
    quarantine_status,
    compound_id,
    compound_case_level,
    district_id,
    cases_by_district,
    retest_out,
    counts,
    confirm_singles=False,
):
    """:func:`apply_result_stage` for a batch in which no agent is in two tubes (every batch the testing
    component makes): stage 1, which writes each member alone, runs on 64 chunks of tubes in parallel
    (the same result on any number of threads); stages 2 and 3 run in order."""
    tubes = swab_day.size
    if stage != 1 or tubes < 2 * SCAN_CHUNKS:
        apply_result_stage(stage, day, swab_day, flags, member_start, members, retest_pools, test_result,
                           day_last_result, consecutive_negatives, day_detected, is_community_case, quarantine_status,
                           compound_id, compound_case_level, district_id, cases_by_district, retest_out, counts,
                           confirm_singles)
        return
    per_chunk = (tubes + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    chunk_counts = np.zeros((SCAN_CHUNKS, counts.size), dtype=np.int64)
    for c in prange(SCAN_CHUNKS):
        first_tube = min(tubes, c * per_chunk)
        stop_tube = min(tubes, first_tube + per_chunk)
        apply_result_stage(stage, day, swab_day[first_tube:stop_tube], flags[first_tube:stop_tube],
                           member_start[first_tube : stop_tube + 1], members, retest_pools, test_result,
                           day_last_result, consecutive_negatives, day_detected, is_community_case, quarantine_status,
                           compound_id, compound_case_level, district_id, cases_by_district, retest_out,
                           chunk_counts[c], confirm_singles)
    for c in range(SCAN_CHUNKS):
        for k in range(counts.size):
            counts[k] += chunk_counts[c, k]


@njit(cache=True, nogil=True, parallel=True)
def apply_packed_result_stage(
    stage,
    day,
    swab_day,
    flags,
    member_start,
    bits,
    base,
    retest_pools,
    test_result,
    day_last_result,
    consecutive_negatives,
    day_detected,
    is_community_case,
    quarantine_status,
    compound_id,
    compound_case_level,
    district_id,
    cases_by_district,
    retest_out,
    counts,
    confirm_singles=False,
    read_members=PACKED_READ_MEMBERS,
):
    """:func:`apply_result_stage` for a packed batch (``TubeBatch.pack``), read in place a tube at a
    time: its members are the agents ``base + k`` of the bits ``k`` set in ``bits``, in increasing
    order, tube j holding members ``member_start[j] .. member_start[j + 1] - 1`` of that order (a
    slice of a batch starts past member 0). Whole tubes of up to ``read_members`` members (or one
    tube) are read at a time into a small buffer; nothing is unpacked whole.

    Parameters
    ----------
    bits : (b,) uint8
    base : int
    read_members : int
        Members read into ids at a time.
    (the others as :func:`apply_result_stage`)
    """
    tubes = swab_day.size
    if tubes == 0 or stage != 1 and not _any_positive(flags):
        return  # stages 2 and 3 visit the members of positive tubes only
    if stage != 1:
        _apply_packed_positives(stage, day, swab_day, flags, member_start, bits, base, retest_pools, test_result,
                                day_last_result, consecutive_negatives, day_detected, is_community_case,
                                quarantine_status, compound_id, compound_case_level, district_id, cases_by_district,
                                retest_out, counts, confirm_singles)
        return
    # Stage 1 writes each member alone (a packed batch's members are distinct): chunks of tubes in parallel.
    prefix = _block_members(bits)
    chunks = min(SCAN_CHUNKS, tubes)
    per_chunk = (tubes + chunks - 1) // chunks
    chunk_counts = np.zeros((chunks, counts.size), dtype=np.int64)
    for c in prange(chunks):
        first_tube = min(tubes, c * per_chunk)
        stop_tube = min(tubes, first_tube + per_chunk)
        if first_tube < stop_tube:
            _apply_packed_tubes(stage, day, swab_day, flags, member_start, bits, base, prefix, first_tube, stop_tube,
                                read_members, retest_pools, test_result, day_last_result, consecutive_negatives,
                                day_detected, is_community_case, quarantine_status, compound_id, compound_case_level,
                                district_id, cases_by_district, retest_out, chunk_counts[c], confirm_singles)
    for c in range(chunks):
        for k in range(counts.size):
            counts[k] += chunk_counts[c, k]


@njit(cache=True, nogil=True)
def _apply_packed_tubes(stage, day, swab_day, flags, member_start, bits, base, prefix, first_tube, stop_tube,
                        read_members, retest_pools, test_result, day_last_result, consecutive_negatives, day_detected,
                        is_community_case, quarantine_status, compound_id, compound_case_level, district_id,
                        cases_by_district, retest_out, counts, confirm_singles):
    """Stage ``stage`` of :func:`apply_packed_result_stage` for tubes ``first_tube .. stop_tube - 1``:
    whole tubes of up to ``read_members`` members (or one tube) read at a time into a small buffer
    and applied by :func:`apply_result_stage`."""
    largest = 1
    for j in range(first_tube, stop_tube):
        largest = max(largest, member_start[j + 1] - member_start[j])
    room = max(largest, read_members)
    ids = np.empty(room, dtype=np.int32)
    start = np.empty(room + 1, dtype=np.int64)
    b, rest = _seek_member(bits, prefix, member_start[first_tube])
    j0 = first_tube
    while j0 < stop_tube:  # whole tubes j0 .. j1 - 1, read from the bits, then applied as ids
        first = member_start[j0]
        j1 = j0 + 1
        while j1 < stop_tube and member_start[j1 + 1] - first <= room:
            j1 += 1
        for k in range(member_start[j1] - first):  # the next bit set
            while rest == 0:
                b += 1
                rest = np.int64(bits[b])
            low = rest & -rest
            rest ^= low
            ids[k] = base + b * 8 + _LOWEST_BIT[low]
        for j in range(j0, j1 + 1):
            start[j - j0] = member_start[j] - first
        # A call, not inlined: inlined in this loop, the stage's code ran 3x slower.
        apply_result_stage(stage, day, swab_day[j0:j1], flags[j0:j1], start[: j1 - j0 + 1], ids, retest_pools,
                           test_result, day_last_result, consecutive_negatives, day_detected, is_community_case,
                           quarantine_status, compound_id, compound_case_level, district_id, cases_by_district,
                           retest_out, counts, confirm_singles)
        j0 = j1


@njit(cache=True, nogil=True)
def _apply_packed_positives(stage, day, swab_day, flags, member_start, bits, base, retest_pools, test_result,
                            day_last_result, consecutive_negatives, day_detected, is_community_case,
                            quarantine_status, compound_id, compound_case_level, district_id, cases_by_district,
                            retest_out, counts, confirm_singles):
    """Stage 2 or 3 of :func:`apply_packed_result_stage`: only the positive tubes' members are read
    (the members between them are skipped a byte at a time by their bit counts), each tube applied
    in order by :func:`apply_result_stage`."""
    b, rest = _seek_member(bits, _block_members(bits), member_start[0])
    at = member_start[0]  # the member the cursor (b, rest) is at
    ids = np.empty(1, dtype=np.int32)
    start = np.zeros(2, dtype=np.int64)
    for j in range(swab_day.size):
        if not flags[j] & FLAG_POSITIVE:
            continue
        b, rest = _skip_members(bits, b, rest, member_start[j] - at)
        size = member_start[j + 1] - member_start[j]
        if ids.size < size:
            ids = np.empty(size, dtype=np.int32)
        for k in range(size):
            while rest == 0:
                b += 1
                rest = np.int64(bits[b])
            low = rest & -rest
            rest ^= low
            ids[k] = base + b * 8 + _LOWEST_BIT[low]
        at = member_start[j + 1]
        start[1] = size
        apply_result_stage(stage, day, swab_day[j : j + 1], flags[j : j + 1], start, ids, retest_pools, test_result,
                           day_last_result, consecutive_negatives, day_detected, is_community_case, quarantine_status,
                           compound_id, compound_case_level, district_id, cases_by_district, retest_out, counts,
                           confirm_singles)


@njit(cache=True, nogil=True)
def _skip_members(bits, b, rest, count):
    """The cursor (byte index, unread bits of that byte) ``count`` members after (b, rest)."""
    while count > 0:
        here = _BITS_SET[rest]
        if here > count:
            break
        count -= here
        b += 1
        if b == bits.size:
            return b - 1, np.int64(0)
        rest = np.int64(bits[b])
    for _ in range(count):
        rest &= rest - 1
    return b, rest


@njit(cache=True, nogil=True, inline="always")
def _any_positive(flags):
    """Whether a tube of ``flags`` is positive."""
    for j in range(flags.size):
        if flags[j] & FLAG_POSITIVE:
            return True
    return False


@njit(cache=True, nogil=True, parallel=True)
def _block_members(bits):
    """Exclusive prefix sum of the members (bits set) per block of ``PACKED_SEEK_BLOCK`` bytes: (B + 1,) int64."""
    blocks = (bits.size + PACKED_SEEK_BLOCK - 1) // PACKED_SEEK_BLOCK
    prefix = np.zeros(blocks + 1, dtype=np.int64)
    for k in prange(blocks):
        count = 0
        for b in range(k * PACKED_SEEK_BLOCK, min(bits.size, (k + 1) * PACKED_SEEK_BLOCK)):
            count += _BITS_SET[bits[b]]
        prefix[k + 1] = count
    for k in range(blocks):
        prefix[k + 1] += prefix[k]
    return prefix


@njit(cache=True, nogil=True)
def _seek_member(bits, prefix, first):
    """Where member ``first`` (counted from the first bit set) of a packed set is, as a cursor (byte
    index, the bits of that byte from that member on): its block found in ``prefix``
    (:func:`_block_members`), then bytes skipped by their bit counts. Past the last member: (last byte, 0)."""
    k = np.searchsorted(prefix, first, side="right") - 1
    b = k * PACKED_SEEK_BLOCK
    if b >= bits.size:
        return bits.size - 1, np.int64(0)
    return _skip_members(bits, b, np.int64(bits[b]), first - prefix[k])


@njit(cache=True, nogil=True)
def pack_members(ids, base, bits):
    """Set bit ``ids[a] - base`` of ``bits`` for every member (a set of agents as one bit each);
    return False (``bits`` then partly written) if ``ids`` is not strictly increasing or leaves the
    range of ``bits``.

    Parameters
    ----------
    ids : (m,) int32, all ``>= base``
    base : int
    bits : (>= (max(ids) - base) // 8 + 1,) uint8, zeroed, written
    """
    previous = -1
    for a in range(ids.size):
        if ids[a] <= previous:
            return False
        previous = ids[a]
        offset = ids[a] - base
        if offset < 0 or (offset >> 3) >= bits.size:
            return False
        bits[offset >> 3] |= np.uint8(1 << (offset & 7))
    return True


@njit(cache=True, nogil=True)
def unpack_members(bits, base, first, out):
    """The inverse of :func:`pack_members`: members ``first .. first + out.size - 1`` (in increasing
    order) written to ``out``; returns how many were found (``out.size`` unless ``bits`` holds fewer).

    Parameters
    ----------
    bits : (b,) uint8
    base : int
    first : int
        Members to skip (a slice of a batch starts at its ``member_start[0]``).
    out : (k,) int32, written
    """
    seen = 0
    written = 0
    wanted = out.size
    for byte_index in range(bits.size):
        byte = bits[byte_index]
        if byte == 0:
            continue
        count = 0
        value = byte
        while value:  # popcount
            value &= value - 1
            count += 1
        if seen + count <= first:
            seen += count
            continue
        for bit in range(8):
            if byte & (1 << bit):
                if seen >= first:
                    if written == wanted:
                        return written
                    out[written] = base + byte_index * 8 + bit
                    written += 1
                seen += 1
    return written
