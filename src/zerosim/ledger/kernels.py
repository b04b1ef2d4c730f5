"""Ledger layer: Numba kernels of the daily cost accounting.

Layer ``ledger`` -- imports numpy, numba, population codes and ``SCAN_CHUNKS`` of the disease
kernels only. Each kernel has a NumPy reference in ``tests/ledger/test_kernels.py``.

A day of accounts makes one pass over the agents (:func:`account_agents`), one over the households
(:func:`account_households`), then passes over the few households that need food today
(:func:`needy_subdistricts`, :func:`choose_deliveries`, :func:`account_food`) and over the small stores
(:func:`account_stores`). The agent and household passes split their work into ``SCAN_CHUNKS`` fixed
chunks, each with its own partial sums, reduced in chunk order: results (float sums included) do not
depend on the thread count. Chunk ``c`` holds agents ``[c * k, (c + 1) * k)`` with
``k = ceil(n / SCAN_CHUNKS)``, and the households whose first member is among them
(:func:`household_chunks`).

Speed. On most days most agents are free, well and were not confined yesterday: the agent pass
takes a short path for them that touches only a few bytes and counts nothing per household (the
household pass infers them from the household's size). Branches test conditions that stay the same
over long runs of agents (free or not, confined or not); whether an agent works changes from one
agent to the next, so it is never branched on: a table lookup folds it into the test for "kept from
work", and those agents are listed without a branch, then their wages added in agent order. Agent
and household indices are cast to unsigned so that Numba drops its test for negative indices.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange

from zerosim.disease.kernels import SCAN_CHUNKS
from zerosim.population.state import Compartment, HealthCode, Mobility

_DEAD = np.int8(Compartment.DEAD)
_SEVERE = np.int8(Compartment.SEVERE)
_CRITICAL = np.int8(Compartment.CRITICAL)
_FREE = np.int8(Mobility.FREE)
_COMPOUND = np.int8(Mobility.COMPOUND)
_AWAY = np.int8(Mobility.AWAY)  # travelling (zerosim.region): neither confined nor kept from work here
#: Columns of the person-days table, one per Mobility level.
MOBILITY_LEVELS = len(Mobility)
assert int(HealthCode.GREEN) == 0  # account_agents tests "not green" as a nonzero code
assert int(Mobility.AWAY) == MOBILITY_LEVELS - 1  # the confined levels lie between COMPOUND and AWAY
#: Per-household counts are 16-bit fields of one int64 (see account_agents), so at most this many members.
MAX_HOUSEHOLD_MEMBERS = 32_767
_FIELD = 0xFFFF
#: Workplace codes of account_agents (index workplace_id + 1): no work, open workplace, closed workplace.
#: ``(health_code | code >> 2) & code & 3`` is nonzero for a worker with a non-green code or a closed workplace.
_NO_WORK = np.int8(0)
_OPEN = np.int8(3)
_CLOSED = np.int8(7)


def household_chunks(household_start: np.ndarray, agent_count: int) -> np.ndarray:
    """First household of each scan chunk: the first whose first member is in the chunk's agents.

    Parameters
    ----------
    household_start : (H + 1,) int64
        Members of household ``h`` are agents ``household_start[h] .. household_start[h + 1]``.
    agent_count : int
        Number of agents ``n`` (``household_start[-1]``).

    Returns
    -------
    (SCAN_CHUNKS + 1,) int64
        Chunk ``c`` owns households ``[result[c], result[c + 1])``; ``result[-1] = H``.
    """
    chunk = (agent_count + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    first_agent = np.arange(SCAN_CHUNKS + 1, dtype=np.int64) * chunk
    return np.searchsorted(household_start[:-1], first_agent, side="left").astype(np.int64)


@njit(cache=True, nogil=True)
def count_flagged(flags, mask):
    """Number of entries of ``flags`` (n,) int8 with any bit of ``mask`` set (no temporaries)."""
    total = 0
    for i in range(flags.size):
        total += (flags[i] & mask) != 0
    return total


@njit(cache=True, nogil=True)
def households_nest(household_start, subdistrict_id, district_id):
    """True if every household has 1 .. MAX_HOUSEHOLD_MEMBERS members, all with the subdistrict and
    district of its first member (what the household pass needs)."""
    for h in range(household_start.size - 1):
        first, stop = household_start[h], household_start[h + 1]
        if stop - first < 1 or stop - first > MAX_HOUSEHOLD_MEMBERS:
            return False
        for i in range(first + 1, stop):
            if subdistrict_id[i] != subdistrict_id[first] or district_id[i] != district_id[first]:
                return False
    return True


@njit(cache=True, nogil=True, inline="always")
def _field(packed, k):
    """Field ``k`` (16 bits) of a packed int64 of counts."""
    return (packed >> (16 * k)) & _FIELD


@njit(cache=True, nogil=True, inline="always")
def _member(compartment, mobility, workplace_id, confined_level, streak, pressure_threshold_days, i):
    """What member ``i`` adds to his household's counts (account_agents): 1 listed member, then
    1 each if present (living, not away), free to shop, under pressure not counted per agent."""
    level = mobility[i]
    is_present = (compartment[i] != _DEAD) & (level != _AWAY)
    free = is_present & (level < confined_level)
    kept_home = (workplace_id[i] >= 0) & (level != _FREE)
    pressured = is_present & (streak > pressure_threshold_days) & (not kept_home)
    return 1 | (np.int64(is_present) << 16) | (np.int64(free) << 32) | (np.int64(pressured) << 48)


#: The per-agent arrays :func:`account_agents` reads.
LedgerPeople = namedtuple("LedgerPeople", [
    "household_id", "compartment", "mobility", "health_code", "consecutive_negatives", "district_id",
    "subdistrict_id", "workplace_id", "sector", "worker_type"])
#: What decides a day's lost wages and pressure: open workplaces, wages by sector, the share a worker type
#: loses, the mobility that counts as confined for shopping, the logistics sector code, the pressure
#: threshold in days, and a scratch array of workplace codes (W + 1,) int8.
WorkRules = namedtuple("WorkRules", [
    "workplace_is_open", "daily_wage_by_sector", "loss_fraction_by_type", "confined_level", "logistics_sector",
    "pressure_threshold_days", "workplace_codes"])
#: Each agent's confinement record (in/out): current streak, longest streak, total days, flags.
ConfinementRecord = namedtuple("ConfinementRecord", [
    "confined_streak_days", "longest_confinement_days", "confined_days_total", "ledger_flags"])
#: The day's totals :func:`account_agents` adds to.
DayAccounts = namedtuple("DayAccounts", [
    "household_counts", "person_days", "after_ten_negatives", "lost_by_district", "lost_by_sector", "lost_by_type",
    "idle_workers", "pressure_by_subdistrict", "pressure_by_district", "couriers_not_free"])


@njit(cache=True, nogil=True, parallel=True)
def account_agents(household_start, household_chunk_start, people, rules, record, accounts):
    """One day's pass over every agent: confinement, wages lost, the pressure index of workers kept
    home, and the member counts of the household pass.

    Confinement: confined = present (living, not AWAY) with mobility COMPOUND, HOME or FACILITY.
    Updates in place the current streak ``confined_streak_days`` (0 when not confined or dead), the
    longest streak, the total confined days (int16, saturating at 32767) and bit 0 of
    ``ledger_flags`` (kept confined after >= 10 consecutive negatives). Adds to ``person_days``
    (D, MOBILITY_LEVELS) int64 the living agents at each mobility level by district, and to
    ``after_ten_negatives`` (D,) the confined with ``consecutive_negatives`` >= 10.

    Income: a present worker who is not severely ill is kept from work if confined (mobility above
    FREE), without a green health code, or if the workplace is closed; he loses
    ``daily_wage_by_sector[sector] * loss_fraction_by_type[worker_type]`` CNY. Adds the losses to
    ``lost_by_district`` (D,), ``lost_by_sector`` (sector codes,), ``lost_by_type`` (types,) float64
    and the workers to ``idle_workers`` (D,) int64. Each float sum is taken in agent order within a
    chunk, then over chunks in order.

    Pressure: a present agent confined longer than ``pressure_threshold_days`` is under pressure if
    he works and is not free (added here to ``pressure_by_subdistrict`` (S,) / ``pressure_by_district``
    (D,) int64), or if his household runs out of food today (counted by :func:`account_food`).

    Households: adds to ``household_counts`` (H,) int64 (all 0 on entry) at the household of each
    agent off the short path four 16-bit counts: members listed (bits 0-15), present (16-31), free
    to shop (mobility below ``confined_level``, 32-47), and under pressure but not counted here
    (48-63). The unlisted members took the short path: present, free to shop, and under pressure
    only if ``pressure_threshold_days`` < 0.

    Also adds to ``couriers_not_free`` (1,) int64 the agents of sector ``logistics_sector`` (living or
    not) whose mobility is not FREE; fills ``workplace_codes`` (W + 1,) int8 (scratch).

    Parameters
    ----------
    household_start : (H + 1,) int64; household_chunk_start : (SCAN_CHUNKS + 1,) int64
        Household ranges and the chunks' first households (:func:`household_chunks`).
    household_id, workplace_id : (n,) int32 (workplace -1 = no work)
    compartment, mobility, health_code, consecutive_negatives, district_id, sector, worker_type : (n,) int8
    subdistrict_id : (n,) int16
    workplace_is_open : (W,) int8
    daily_wage_by_sector : (sector codes,) float64; loss_fraction_by_type : (types,) float64
    confined_level, logistics_sector, pressure_threshold_days : int
    confined_streak_days, longest_confinement_days, confined_days_total : (n,) int16, in/out
    ledger_flags : (n,) int8, in/out

    Bundled as ``people`` (:class:`LedgerPeople`, read), ``rules`` (:class:`WorkRules`), ``record``
    (:class:`ConfinementRecord`, in/out) and ``accounts`` (:class:`DayAccounts`, added to).
    """
    household_id, compartment, mobility, health_code = (people.household_id, people.compartment, people.mobility,
                                                         people.health_code)
    consecutive_negatives, district_id, subdistrict_id = (people.consecutive_negatives, people.district_id,
                                                          people.subdistrict_id)
    workplace_id, sector, worker_type = people.workplace_id, people.sector, people.worker_type
    workplace_is_open, daily_wage_by_sector, loss_fraction_by_type = (rules.workplace_is_open, rules.daily_wage_by_sector,
                                                                      rules.loss_fraction_by_type)
    confined_level, logistics_sector = rules.confined_level, rules.logistics_sector
    pressure_threshold_days, workplace_codes = rules.pressure_threshold_days, rules.workplace_codes
    confined_streak_days, longest_confinement_days = record.confined_streak_days, record.longest_confinement_days
    confined_days_total, ledger_flags = record.confined_days_total, record.ledger_flags
    household_counts, person_days, after_ten_negatives = (accounts.household_counts, accounts.person_days,
                                                          accounts.after_ten_negatives)
    lost_by_district, lost_by_sector, lost_by_type = (accounts.lost_by_district, accounts.lost_by_sector,
                                                      accounts.lost_by_type)
    idle_workers, pressure_by_subdistrict = accounts.idle_workers, accounts.pressure_by_subdistrict
    pressure_by_district, couriers_not_free = accounts.pressure_by_district, accounts.couriers_not_free
    n = compartment.size
    districts = person_days.shape[0]
    subdistricts = pressure_by_subdistrict.size
    sectors = lost_by_sector.size
    types = lost_by_type.size
    workplace_codes[0] = _NO_WORK
    for w in range(workplace_is_open.size):
        workplace_codes[w + 1] = _OPEN if workplace_is_open[w] == 1 else _CLOSED
    days_acc = np.zeros((SCAN_CHUNKS, districts, MOBILITY_LEVELS), dtype=np.int64)
    ten_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    idle_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    pressure_d_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    pressure_s_acc = np.zeros((SCAN_CHUNKS, subdistricts), dtype=np.int64)
    lost_acc = np.zeros((SCAN_CHUNKS, districts), dtype=np.float64)
    sector_acc = np.zeros((SCAN_CHUNKS, sectors), dtype=np.float64)
    type_acc = np.zeros((SCAN_CHUNKS, types), dtype=np.float64)
    couriers_acc = np.zeros(SCAN_CHUNKS, dtype=np.int64)
    chunk = (n + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        start = min(n, c * chunk)
        stop = min(n, start + chunk)
        # Agents before first_member belong to the previous chunk's last household (see below).
        first_member = household_start[household_chunk_start[c]]
        kept_from_work = np.empty(stop - start, dtype=np.int32)
        kept = 0
        couriers = 0
        district = district_id[start] if start < stop else 0
        free_well = 0  # agents of ``district`` on the short path
        for i in range(start, stop):
            u = np.uint64(i)  # an unsigned index: no test for negative indices
            d = district_id[u]
            if d != district:
                days_acc[c, district, 0] += free_well
                free_well = 0
                district = d
            state = compartment[u]
            level = mobility[u]
            code = workplace_codes[workplace_id[u] + 1]
            if (level == _FREE) & (state != _DEAD) & (state != _SEVERE) & (state != _CRITICAL) & (
                    confined_streak_days[u] == 0):
                # Short path: free, well, no streak to reset. Kept from work only by a non-green
                # code or a closed workplace, and only if a worker (code 0).
                free_well += 1
                kept_from_work[kept] = i
                kept += ((health_code[u] | (code >> 2)) & code & 3) != 0
                continue
            alive = state != _DEAD
            is_present = alive & (level != _AWAY)
            if alive:
                days_acc[c, d, level] += 1
            couriers += (sector[u] == logistics_sector) & (level != _FREE)
            streak = 0
            if is_present & (level >= _COMPOUND):
                streak = confined_streak_days[u]
                if streak < 32767:
                    streak += 1
                    confined_streak_days[u] = streak
                if confined_days_total[u] < 32767:
                    confined_days_total[u] += 1
                longest_confinement_days[u] = max(longest_confinement_days[u], streak)
                after_ten = consecutive_negatives[u] >= 10
                ten_acc[c, d] += after_ten
                ledger_flags[u] |= np.int8(after_ten)
            elif confined_streak_days[u] != 0:
                confined_streak_days[u] = 0
            works_here = code != _NO_WORK
            at_work = (level == _FREE) & (health_code[u] == 0) & (code == _OPEN)
            kept_from_work[kept] = i
            kept += works_here & is_present & (state != _SEVERE) & (state != _CRITICAL) & (not at_work)
            if is_present & (streak > pressure_threshold_days):
                kept_home = works_here & (level != _FREE)
                pressure_d_acc[c, d] += kept_home
                pressure_s_acc[c, subdistrict_id[u]] += kept_home
            if i >= first_member:
                household_counts[household_id[u]] += _member(compartment, mobility, workplace_id, confined_level,
                                                             streak, pressure_threshold_days, u)
        if start < stop:
            days_acc[c, district, 0] += free_well
        couriers_acc[c] = couriers
        for j in range(kept):  # wages lost, in agent order
            i = np.uint64(kept_from_work[j])
            s = sector[i]
            t = worker_type[i]
            d = district_id[i]
            loss = daily_wage_by_sector[s] * loss_fraction_by_type[t]
            lost_acc[c, d] += loss
            sector_acc[c, s] += loss
            type_acc[c, t] += loss
            idle_acc[c, d] += 1
    # The last household of a chunk may go on into the next chunk's agents, whose streaks that chunk
    # updated: list those members now, the scan done.
    for c in range(SCAN_CHUNKS):
        stop = min(n, (c + 1) * chunk)
        last = household_chunk_start[c + 1] - 1
        if last < household_chunk_start[c]:
            continue
        for i in range(stop, household_start[last + 1]):
            u = np.uint64(i)
            household_counts[last] += _member(compartment, mobility, workplace_id, confined_level,
                                              confined_streak_days[u], pressure_threshold_days, u)
    for c in range(SCAN_CHUNKS):
        for d in range(districts):
            after_ten_negatives[d] += ten_acc[c, d]
            lost_by_district[d] += lost_acc[c, d]
            idle_workers[d] += idle_acc[c, d]
            pressure_by_district[d] += pressure_d_acc[c, d]
            for k in range(MOBILITY_LEVELS):
                person_days[d, k] += days_acc[c, d, k]
        for s in range(sectors):
            lost_by_sector[s] += sector_acc[c, s]
        for t in range(types):
            lost_by_type[t] += type_acc[c, t]
        for s in range(subdistricts):
            pressure_by_subdistrict[s] += pressure_s_acc[c, s]
        couriers_not_free[0] += couriers_acc[c]


#: Layout of the ``supply`` array of :func:`account_households` (float64): the scheduled food that reaches a
#: household cut off from shops, from government packages and from group buying (docs/ledger.md 2.1).
PACKAGE_WAIT, PACKAGE_INTERVAL, PACKAGE_FOOD, GROUP_BUY_WAIT, GROUP_BUY_INTERVAL, GROUP_BUY_FOOD = range(6)
SUPPLY_FIELDS = 6


@njit(cache=True, nogil=True, inline="always")
def _scheduled(days, wait, interval):
    """True on the days cut off from shops ``days`` (1 on the first) when a supply arrives: after ``wait`` whole
    days confined, then every ``interval`` days (never if ``interval`` <= 0); both whole days."""
    every = np.int64(interval)
    since = np.int64(days) - 1 - np.int64(wait)
    return every > 0 and since >= 0 and since % every == 0


@njit(cache=True, nogil=True, parallel=True)
def account_households(household_start, household_chunk_start, household_counts, free_is_pressured,
                       food_stock_days, food_stock_initial, household_out_today, needy_count, household_district,
                       shop_open_share, household_cut_off_days, household_group_buy, supply):
    """One day's pass over every household: who cannot shop, food stocks, who needs a delivery.

    From the counts of :func:`account_agents` (members not listed there are present, free to shop,
    and under pressure if ``free_is_pressured``): a household is confined when it has present
    members and none free to shop. A confined household eats one day of stock (floor 0); any other
    restocks to ``food_stock_initial`` if every food shop of its district is open, and otherwise eats a
    day and buys back ``shop_open_share[district]`` of what it lacks (shops shut by closures sell nothing,
    whoever is free to go out).

    Scheduled supplies: ``household_cut_off_days`` counts the household's unbroken days cut off from shops
    (confined, or in a district whose food shops are not all open; 1 on the first, int16 saturating; 0 otherwise).
    A sealed compound's households (mobility level 1) are fed through the compound gate like those confined at
    home. On the days :func:`_scheduled` picks, a household cut off receives, before it eats, ``supply[PACKAGE_FOOD]`` days of food (a government package) and, if
    ``household_group_buy`` is 1, ``supply[GROUP_BUY_FOOD]`` (a group-buying order); float32 arithmetic:
    ``max((stock + received) - 1, 0)``. ``household_out_today`` is cleared (the households that run
    out are marked by :func:`account_food`), and so is ``household_counts``, but for the needy.

    The households left with less than one day of food that are confined, or whose district's shops are
    not all open, are "needy": chunk ``c`` writes
    them, in increasing order, over the start of its own range of ``household_counts`` (from
    ``household_chunk_start[c]``), each as ``h | present << 32 | pressured << 48`` (its present
    members, and those under pressure if it runs out), and their number to ``needy_count[c]``.

    Parameters
    ----------
    household_start : (H + 1,) int64; household_chunk_start : (SCAN_CHUNKS + 1,) int64
    household_counts : (H,) int64, in/out; free_is_pressured : bool
    food_stock_days : (H,) float32, in/out; food_stock_initial : (H,) float32
    household_out_today : (H,) int8, out; needy_count : (SCAN_CHUNKS,) int64, out
    household_district : (H,) int; shop_open_share : (D,) float32, the share of food shops open today
    household_cut_off_days : (H,) int16, in/out; household_group_buy : (H,) int8 (1 = takes part)
    supply : (SUPPLY_FIELDS,) float64, laid out as ``PACKAGE_WAIT`` ... ``GROUP_BUY_FOOD``
    """
    one = np.float32(1.0)
    zero = np.float32(0.0)
    package = np.float32(supply[PACKAGE_FOOD])
    group_buy = np.float32(supply[GROUP_BUY_FOOD])
    for c in prange(SCAN_CHUNKS):
        first = household_chunk_start[c]
        last = household_chunk_start[c + 1]
        needy = first
        for h in range(first, last):
            k = np.uint64(h)
            counts = household_counts[k]
            household_counts[k] = 0
            unlisted = household_start[k + 1] - household_start[k] - _field(counts, 0)
            present = unlisted + _field(counts, 1)
            confined = (present > 0) & (unlisted + _field(counts, 2) == 0)
            share = shop_open_share[household_district[k]]
            received = zero
            if confined or share < one:  # cut off from shops: fed by packages and group buying too
                days = household_cut_off_days[k]
                if days < 32767:
                    days += 1
                    household_cut_off_days[k] = days
                if _scheduled(days, supply[PACKAGE_WAIT], supply[PACKAGE_INTERVAL]):
                    received += package
                if household_group_buy[k] == 1 and _scheduled(days, supply[GROUP_BUY_WAIT],
                                                                supply[GROUP_BUY_INTERVAL]):
                    received += group_buy
            elif household_cut_off_days[k] != 0:
                household_cut_off_days[k] = 0
            if confined or share < one:
                stock = max((food_stock_days[k] + received) - one, zero)
                if not confined and stock < food_stock_initial[k]:  # some shops open: buy back that share
                    stock += share * (food_stock_initial[k] - stock)
                food_stock_days[k] = stock
                # Listed without a branch (in a lockdown a third of the households may be needy, in
                # no order): the slot at ``needy`` <= h was read already; if h is not needy, the
                # next needy household overwrites it.
                pressured = _field(counts, 3) + (unlisted if free_is_pressured else 0)  # unlisted = 0 if confined
                household_counts[needy] = h | (present << 32) | (pressured << 48)
                needy += (present > 0) & (stock < one)
            else:
                food_stock_days[k] = food_stock_initial[k]
            household_out_today[k] = 0
        if needy < last:
            household_counts[needy] = 0  # the slot after the last needy household was read: clear it
        needy_count[c] = needy - first


@njit(cache=True, nogil=True, parallel=True)
def needy_subdistricts(household_chunk_start, household_counts, needy_start, household_subdistrict):
    """Subdistrict of each needy household of :func:`account_households`, households in increasing
    order: (m,) int64. ``needy_start`` (SCAN_CHUNKS + 1,) int64: where each chunk's needy begin in
    that order (cumulative ``needy_count``)."""
    subdistrict = np.empty(needy_start[SCAN_CHUNKS], dtype=np.int64)
    for c in prange(SCAN_CHUNKS):
        first = household_chunk_start[c]
        for j in range(needy_start[c], needy_start[c + 1]):
            subdistrict[j] = household_subdistrict[household_counts[first + j - needy_start[c]] & 0xFFFFFFFF]
    return subdistrict


@njit(cache=True, nogil=True, parallel=True)
def choose_deliveries(subdistrict, keys, capacity, served):
    """Which needy households get a delivery: in each subdistrict, the ``capacity`` with the smallest
    ``keys`` (ties: the earlier household), or all of them if they are fewer.

    Parameters
    ----------
    subdistrict : (m,) int64
        Subdistrict of each needy household, households in increasing order.
    keys : (m,) float64
        Uniform draws in [0, 1), one per needy household (first come, first served).
    capacity : (S,) int64
        Deliveries each subdistrict can make today.
    served : (m,) bool, out
    """
    m = subdistrict.size
    subdistricts = capacity.size
    count = np.zeros(subdistricts + 1, dtype=np.int64)
    in_order = True
    for j in range(m):
        count[subdistrict[j] + 1] += 1
        if j > 0 and subdistrict[j] < subdistrict[j - 1]:
            in_order = False
    over = False
    for s in range(subdistricts):
        over |= count[s + 1] > capacity[s]
        count[s + 1] += count[s]
    served[:] = True
    if not over:
        return
    if in_order:  # households come subdistrict by subdistrict: the groups are ranges already
        members = np.arange(m)
    else:
        members = np.empty(m, dtype=np.int64)  # needy grouped by subdistrict, household order kept
        fill = count[:subdistricts].copy()
        for j in range(m):
            s = subdistrict[j]
            members[fill[s]] = j
            fill[s] += 1
    for s in prange(subdistricts):  # each subdistrict clears its own households: any order
        if count[s + 1] - count[s] > capacity[s]:
            _serve_smallest(keys, members[count[s]:count[s + 1]], max(capacity[s], 0), served)


@njit(cache=True, nogil=True)
def _serve_smallest(keys, group, k, served):
    """Clear ``served`` for all of ``group`` (positions, increasing) but the ``k`` with the smallest
    keys, ties to the earlier position. Bins keys by value first; only the bin of the k-th is sorted."""
    bins = max(16, group.size // 8)
    in_bin = np.zeros(bins + 1, dtype=np.int64)
    for j in group:
        in_bin[min(max(int(keys[j] * bins), 0), bins - 1)] += 1
    below = 0  # served from the bins below ``cut``
    cut = 0
    while cut < bins and below + in_bin[cut] < k:
        below += in_bin[cut]
        cut += 1
    candidates = np.empty(in_bin[cut] if cut < bins else 0, dtype=np.int64)
    found = 0
    for j in group:
        b = min(max(int(keys[j] * bins), 0), bins - 1)
        if b > cut:
            served[j] = False
        elif b == cut:
            candidates[found] = j
            found += 1
    order = np.argsort(keys[candidates], kind="mergesort")  # stable: ties keep household order
    for r in range(k - below, candidates.size):
        served[candidates[order[r]]] = False


@njit(cache=True, nogil=True, parallel=True)
def account_food(household_chunk_start, household_counts, needy_start, served, delivery_days_of_food,
                 household_district, household_subdistrict, household_elderly_alone, food_stock_days,
                 household_out_today, household_ran_out, shortfall_person_days, without_food, ran_out_new,
                 elderly_ran_out_new, pressure_by_subdistrict, pressure_by_district):
    """After the deliveries: the needy households (:func:`account_households`) that ran out of food.

    A served household gets ``delivery_days_of_food`` (float32 arithmetic, as NumPy). One with no food
    left (stock <= 0) is out today: ``household_out_today`` = 1 and ``household_ran_out`` = 1. Adds, by
    the household's district: its present members to ``shortfall_person_days``, 1 to ``without_food``,
    1 to ``ran_out_new`` if it had never run out (and to ``elderly_ran_out_new`` if one elderly person
    lives alone there) (D,) float64 (whole numbers: exact in any order); and its members under
    pressure to ``pressure_by_subdistrict`` (S,) / ``pressure_by_district`` (D,) int64. Clears the
    needy entries of ``household_counts``.

    Parameters
    ----------
    household_chunk_start, household_counts : as left by :func:`account_households`
    needy_start : (SCAN_CHUNKS + 1,) int64, as for :func:`needy_subdistricts`
    served : (m,) bool, for the needy in increasing order; delivery_days_of_food : float
    household_district : (H,) int8; household_subdistrict : (H,) int16; household_elderly_alone : (H,) bool
    food_stock_days : (H,) float32, in/out; household_out_today, household_ran_out : (H,) int8, in/out
    """
    districts = shortfall_person_days.size
    subdistricts = pressure_by_subdistrict.size
    sums = np.zeros((SCAN_CHUNKS, 4, districts), dtype=np.int64)  # shortfall, without, new, elderly new
    pressure_d = np.zeros((SCAN_CHUNKS, districts), dtype=np.int64)
    pressure_s = np.zeros((SCAN_CHUNKS, subdistricts), dtype=np.int64)
    delivery = np.float32(delivery_days_of_food)
    zero = np.float32(0.0)
    for c in prange(SCAN_CHUNKS):
        first = household_chunk_start[c]
        for j in range(needy_start[c], needy_start[c + 1]):
            e = first + j - needy_start[c]
            entry = household_counts[e]
            household_counts[e] = 0
            h = entry & 0xFFFFFFFF
            if served[j]:
                food_stock_days[h] += delivery
            if food_stock_days[h] > zero:
                continue
            d = household_district[h]
            household_out_today[h] = 1
            is_new = household_ran_out[h] == 0
            household_ran_out[h] = 1
            sums[c, 0, d] += _field(entry, 2)
            sums[c, 1, d] += 1
            sums[c, 2, d] += is_new
            sums[c, 3, d] += is_new & household_elderly_alone[h]
            pressured = _field(entry, 3)
            pressure_s[c, household_subdistrict[h]] += pressured
            pressure_d[c, d] += pressured
    for c in range(SCAN_CHUNKS):
        for d in range(districts):
            shortfall_person_days[d] += sums[c, 0, d]
            without_food[d] += sums[c, 1, d]
            ran_out_new[d] += sums[c, 2, d]
            elderly_ran_out_new[d] += sums[c, 3, d]
            pressure_by_district[d] += pressure_d[c, d]
        for s in range(subdistricts):
            pressure_by_subdistrict[s] += pressure_s[c, s]


@njit(cache=True, nogil=True)
def account_stores(store_ids, workplace_district, workplace_is_open, store_failed, store_closed_streak,
                   store_runway_days, store_days_since_reopen, demand_by_days_since_reopen, closed_by_district,
                   failed_by_district, demand_lost_by_district):
    """One day of the small stores and restaurants (docs/ledger.md 4.2).

    A store is closed while its workplace is closed or after it failed. A closed store adds a day to
    its closed streak and fails once the streak exceeds its cash runway; an open one resets the
    streak, and counts days since it reopened (from 0 on the first open day after a closure, int16
    saturating). Its demand is ``demand_by_days_since_reopen[days]`` once it has reopened, 1 before,
    0 when closed. Adds per district of the store: ``closed_by_district``, ``failed_by_district``
    (failed so far) and ``demand_lost_by_district`` (1 - demand, summed in store order) (D,) float64.

    Parameters
    ----------
    store_ids : (k,) int64, increasing; workplace_district : (W,) int8; workplace_is_open : (W,) int8
    store_failed : (W,) int8, in/out; store_closed_streak, store_days_since_reopen : (W,) int16, in/out
    store_runway_days : (W,) float32; demand_by_days_since_reopen : (32768,) float64
    """
    for j in range(store_ids.size):
        w = store_ids[j]
        d = workplace_district[w]
        closed = workplace_is_open[w] == 0 or store_failed[w] == 1
        streak = store_closed_streak[w]
        if closed:
            if streak < 32767:
                streak += 1
                store_closed_streak[w] = streak
            if store_failed[w] == 0 and streak > store_runway_days[w]:
                store_failed[w] = 1
            closed_by_district[d] += 1.0
            demand_lost_by_district[d] += 1.0
        else:
            since = store_days_since_reopen[w]
            if streak > 0:
                store_closed_streak[w] = 0
                since = 0
                store_days_since_reopen[w] = 0
            elif since >= 0 and since < 32767:
                since += 1
                store_days_since_reopen[w] = since
            demand_lost_by_district[d] += 1.0 - (demand_by_days_since_reopen[since] if since >= 0 else 1.0)
        if store_failed[w] == 1:
            failed_by_district[d] += 1.0
