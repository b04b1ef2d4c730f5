"""Disease layer: Numba kernels over plain arrays (viral load, infectiousness, daily progression).

Layer ``disease`` -- imports numpy, numba, ``zerosim.population.state`` and the population layer's
counter-based random numbers only. Every kernel has
a NumPy reference in ``tests/disease/test_kernels.py``.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np
from numba import njit, prange

from zerosim.population.counter_rng import hash_gamma, hash_normal, hash_uniform
from zerosim.population.kernels import SCAN_CHUNKS  # the scans' fixed chunk count (defined there once)
from zerosim.population.state import Compartment

_S = np.int8(Compartment.SUSCEPTIBLE)
_E = np.int8(Compartment.EXPOSED)
_P = np.int8(Compartment.PRESYMPTOMATIC)
_A = np.int8(Compartment.ASYMPTOMATIC)
_M = np.int8(Compartment.MILD)
_SEV = np.int8(Compartment.SEVERE)
_CRIT = np.int8(Compartment.CRITICAL)
_R = np.int8(Compartment.RECOVERED)
_D = np.int8(Compartment.DEAD)


@njit(cache=True, nogil=True, inline="always")
def log10_viral_load(day, day_detectable, day_peak, day_clear, peak_log10, detection_limit_log10):
    """log10 viral load (copies/mL) on ``day``; 0.0 outside the detectable window.

    Piecewise linear: the detection limit at ``day_detectable``, ``peak_log10`` at ``day_peak``,
    back to the limit at ``day_clear``.
    """
    if day_detectable < 0 or day < day_detectable or day > day_clear:
        return 0.0
    if day <= day_peak:
        span = max(day_peak - day_detectable, 1)
        return detection_limit_log10 + (peak_log10 - detection_limit_log10) * (day - day_detectable) / span
    span = max(day_clear - day_peak, 1)
    return peak_log10 - (peak_log10 - detection_limit_log10) * (day - day_peak) / span


@njit(cache=True, nogil=True, inline="always")
def course_viral_weight(day_detectable, day_peak, day_clear, peak_log10, detection_limit_log10, threshold_log10):
    """One course's total viral weight: the sum over days of max(0, log10 VL - threshold), and the
    last day the load is above the threshold (-1 if never)."""
    total = 0.0
    last = -1
    for day in range(day_detectable, day_clear + 1):
        excess = log10_viral_load(day, day_detectable, day_peak, day_clear, peak_log10, detection_limit_log10) - threshold_log10
        if excess > 0.0:
            total += excess
            last = day
    return total, last


@njit(cache=True, nogil=True)
def collect_active(compartment, out):
    """Write the indices of agents in EXPOSED..CRITICAL into ``out``; return how many."""
    count = 0
    for i in range(compartment.size):
        c = compartment[i]
        if c >= _E and c <= _CRIT:
            out[count] = i
            count += 1
    return count


#: Columns of a course row (int16, one row per listed infected agent; see
#: :class:`zerosim.disease.components.InfectedAgents`): the days of the clinical course, whether it
#: ends in death, the first day the compartment may change next (0: look at the next progression),
#: and the last day the viral load is above the infectious threshold (-1 if never; with
#: ``COURSE_INFECTIOUS`` it bounds the days the transmission layer needs to look at the agent).
(COURSE_INFECTIOUS, COURSE_SYMPTOMATIC, COURSE_SEVERE, COURSE_CRITICAL, COURSE_OUTCOME, COURSE_FATAL,
 COURSE_NEXT_CHANGE, COURSE_LAST_INFECTIOUS) = range(8)
COURSE_COLUMNS = 8


@njit(cache=True, nogil=True, inline="always")
def _target_compartment(day, current, course, a):
    """The compartment of course row ``a`` on ``day`` (element reads only: a row view would cost a
    reference-count update per agent, shared by the threads)."""
    if day >= course[a, COURSE_OUTCOME]:
        return _D if course[a, COURSE_FATAL] else _R
    if course[a, COURSE_CRITICAL] >= 0 and day >= course[a, COURSE_CRITICAL]:
        return _CRIT
    if course[a, COURSE_SEVERE] >= 0 and day >= course[a, COURSE_SEVERE]:
        return _SEV
    symptomatic = course[a, COURSE_SYMPTOMATIC]
    if symptomatic >= 0 and day >= symptomatic:
        return _M
    if day >= course[a, COURSE_INFECTIOUS]:
        return _A if symptomatic < 0 else _P
    return current


@njit(cache=True, nogil=True, inline="always")
def _copy_entry(ids, course, scale, to, source_ids, source_course, source_scale, at):
    """Entry ``at`` of the source arrays into entry ``to`` (element by element, no row views)."""
    ids[to] = source_ids[at]
    for k in range(COURSE_COLUMNS):
        course[to, k] = source_course[at, k]
    scale[to] = source_scale[at]


@njit(cache=True, nogil=True)
def recount_compartments(compartment, district_id, age, mobility, away, by_district, by_band):
    """Check mode's recount, one pass: add every agent whose ``mobility`` is not ``away`` to
    ``by_district[district, compartment]`` and ``by_band[min(age // 10, bands - 1), compartment]``
    ((D, C) and (B, C) int64, zeroed by the caller). Codes outside 0..C-1 are skipped (the engine
    reports them). Returns (agents skipped as away, agents in EXPOSED..CRITICAL among all)."""
    bands = by_band.shape[0]
    codes = by_band.shape[1]
    away_count = 0
    infected = 0
    for i in range(compartment.size):
        c = compartment[i]
        if c >= _E and c <= _CRIT:
            infected += 1
        if mobility[i] == away:
            away_count += 1
            continue
        if c < 0 or c >= codes:
            continue
        by_district[district_id[i], c] += 1
        by_band[min(age[i] // 10, bands - 1), c] += 1
    return away_count, infected


@njit(cache=True, nogil=True)
def count_active(compartment):
    """Number of agents in EXPOSED..CRITICAL."""
    count = 0
    for i in range(compartment.size):
        c = compartment[i]
        if c >= _E and c <= _CRIT:
            count += 1
    return count


@njit(cache=True, nogil=True)
def drop_listed(ids, course, scale, count, rows):
    """Drop the agents ``rows`` (ascending, int) from ``ids[:count]`` and the aligned ``course`` and
    ``scale``, order kept (rows not listed are ignored); return the new count."""
    kept = 0
    r = 0
    for a in range(count):
        i = ids[a]
        while r < rows.size and rows[r] < i:
            r += 1
        if r < rows.size and rows[r] == i:
            continue
        if kept != a:
            _copy_entry(ids, course, scale, kept, ids, course, scale, a)
        kept += 1
    return kept


@njit(cache=True, nogil=True)
def merge_courses(ids, course, scale, count, new_ids, new_course, new_scale):
    """Merge ascending ``new_ids`` (none listed yet) with their ``new_course`` rows and ``new_scale``
    into ascending ``ids[:count]`` and its aligned arrays, in place (from the back: the arrays must
    hold ``count + new_ids.size`` rows); return the new count."""
    i = count - 1
    j = new_ids.size - 1
    k = count + new_ids.size - 1
    while j >= 0:
        if i >= 0 and ids[i] > new_ids[j]:
            _copy_entry(ids, course, scale, k, ids, course, scale, i)
            i -= 1
        else:
            _copy_entry(ids, course, scale, k, new_ids, new_course, new_scale, j)
            j -= 1
        k -= 1
    return count + new_ids.size


@njit(cache=True, nogil=True, inline="always")
def _next_change(day, course, a):
    """The first day after ``day`` on which one of course row ``a``'s days falls (where the
    compartment may change next)."""
    best = course[a, COURSE_OUTCOME]
    for column in (COURSE_INFECTIOUS, COURSE_SYMPTOMATIC, COURSE_SEVERE, COURSE_CRITICAL):
        candidate = course[a, column]
        if candidate > day and candidate < best:
            best = candidate
    return best


#: Listed agents per work chunk of :func:`progress_day` (at most SCAN_CHUNKS chunks). Its sums are
#: integer, so the chunking never changes a result; small lists then cost one small chunk.
PROGRESS_CHUNK_MIN = 4096
_DROPPED = np.int16(-1)


@njit(cache=True, nogil=True, inline="always")
def _progress_entry(day, a, ids, course, compartment, district_id, age, bands, c, d_delta, a_delta, e_delta):
    """Progress list entry ``a`` (see :func:`progress_day`); return 1 if it stays listed, else 0
    (its next-change day is then set to ``_DROPPED``)."""
    if course[a, COURSE_NEXT_CHANGE] > day:
        return 1
    i = ids[a]
    current = compartment[i]
    if current < _E or current > _CRIT:
        course[a, COURSE_NEXT_CHANGE] = _DROPPED  # not infected (any more)
        return 0
    target = _target_compartment(day, current, course, a)
    if target != current:
        compartment[i] = target
        d = district_id[i]
        b = min(age[i] // 10, bands - 1)
        d_delta[c, d, current] -= 1
        d_delta[c, d, target] += 1
        e_delta[c, d, target] += 1
        a_delta[c, b, current] -= 1
        a_delta[c, b, target] += 1
    if target >= _E and target <= _CRIT:
        course[a, COURSE_NEXT_CHANGE] = _next_change(day, course, a)
        return 1
    course[a, COURSE_NEXT_CHANGE] = _DROPPED
    return 0


@njit(cache=True, nogil=True, parallel=True)
def progress_day(
    day,
    ids,
    count,
    course,
    scale,
    new_ids,
    new_course,
    new_scale,
    out_ids,
    out_course,
    out_scale,
    compartment,
    district_id,
    age,
    count_by_district,
    count_by_age_band,
    entered_by_district,
):
    """Merge today's new infections into the list of the infected, move everyone to the compartment
    their course gives for ``day``, and write those still in EXPOSED..CRITICAL, in ascending order,
    to ``out_ids`` / ``out_course`` / ``out_scale`` (room for ``count + new_ids.size``); return how many.

    ``ids[:count]`` (ascending) lists every agent in EXPOSED..CRITICAL once, so the day costs in
    proportion to the infected, not to N (a listed agent outside them is dropped when its
    next-change day comes); ``new_ids`` (ascending, none listed) are today's new infections.
    ``course`` (count, COURSE_COLUMNS) int16 and ``scale`` (count,) float32 are aligned with
    ``ids``, ``new_course`` and ``new_scale`` with ``new_ids``; an agent whose next-change day has
    not come is passed over, and it is updated for those looked at (the input courses are scratch
    afterwards). ``age`` (n,) uint8 gives the 10-year band (last band open-ended). Updates, in
    place, ``compartment`` (n,) int8, ``count_by_district`` (D, C) int64, ``count_by_age_band``
    (B, C) int64, and adds to ``entered_by_district`` (D, C) int64 the number of agents entering
    each compartment today. Both passes (progress, then merging the kept agents into place) run on
    every thread, over chunks of the list and the new infections between their bounds; the result
    does not depend on the thread count or the chunking.
    """
    districts, compartments = count_by_district.shape
    bands = count_by_age_band.shape[0]
    m = new_ids.size
    chunks = min(SCAN_CHUNKS, max(1, (count + m) // PROGRESS_CHUNK_MIN))
    chunk = (count + chunks - 1) // chunks
    # new infections of chunk c: new_start[c] .. new_start[c + 1] (those below the chunk's first listed agent)
    new_start = np.empty(chunks + 1, dtype=np.int64)
    new_start[0] = 0
    for c in range(1, chunks):
        first = c * chunk
        new_start[c] = np.searchsorted(new_ids, ids[first]) if first < count else m
    new_start[chunks] = m
    d_delta = np.zeros((chunks, districts, compartments), dtype=np.int64)
    a_delta = np.zeros((chunks, bands, compartments), dtype=np.int64)
    e_delta = np.zeros((chunks, districts, compartments), dtype=np.int64)
    kept = np.zeros(chunks + 1, dtype=np.int64)
    for c in prange(chunks):
        stay = 0
        for a in range(c * chunk, min(count, (c + 1) * chunk)):
            stay += _progress_entry(day, a, ids, course, compartment, district_id, age, bands, c, d_delta, a_delta,
                                    e_delta)
        for a in range(new_start[c], new_start[c + 1]):
            stay += _progress_entry(day, a, new_ids, new_course, compartment, district_id, age, bands, c, d_delta,
                                    a_delta, e_delta)
        kept[c + 1] = stay
    for c in range(chunks):
        kept[c + 1] += kept[c]
        for d in range(districts):
            for k in range(compartments):
                count_by_district[d, k] += d_delta[c, d, k]
                entered_by_district[d, k] += e_delta[c, d, k]
        for b in range(bands):
            for k in range(compartments):
                count_by_age_band[b, k] += a_delta[c, b, k]
    for c in prange(chunks):  # the kept agents of each chunk to their place, merged in order
        out = kept[c]
        a = c * chunk
        stop = min(count, (c + 1) * chunk)
        j = new_start[c]
        j_stop = new_start[c + 1]
        while a < stop or j < j_stop:
            if j >= j_stop or (a < stop and ids[a] < new_ids[j]):
                if course[a, COURSE_NEXT_CHANGE] != _DROPPED:
                    _copy_entry(out_ids, out_course, out_scale, out, ids, course, scale, a)
                    out += 1
                a += 1
            else:
                if new_course[j, COURSE_NEXT_CHANGE] != _DROPPED:
                    _copy_entry(out_ids, out_course, out_scale, out, new_ids, new_course, new_scale, j)
                    out += 1
                j += 1
    return kept[chunks]


#: Positions of the durations in the ``duration_mu`` / ``duration_sigma`` / ``duration_fixed``
#: arrays of :func:`sample_courses` (log-normal parameters of each ``Duration`` of the config).
(DUR_INCUBATION, DUR_RISE, DUR_CLEARANCE, DUR_ONSET_TO_SEVERE, DUR_SEVERE_TO_CRITICAL, DUR_CRITICAL_TO_DEATH,
 DUR_MILD_RECOVERY, DUR_SEVERE_RECOVERY, DUR_CRITICAL_RECOVERY) = range(9)
#: Hash streams of the per-infection draws (one stream per quantity, draw index 0).
_ST_DURATION = 10  # + duration position
_ST_PEAK = 30
_ST_ASYMPTOMATIC = 31
_ST_SEVERE = 32
_ST_CRITICAL = 33
_ST_DEATH = 34
_ST_DISPERSION = 35


@njit(cache=True, nogil=True, inline="always")
def _duration(position, seed, agent, mu, sigma, fixed):
    """A log-normal duration (days) of the given position: ``fixed`` if its sigma is 0."""
    if sigma[position] <= 0.0:
        return fixed[position]
    return math.exp(mu[position] + sigma[position] * hash_normal(seed, agent, _ST_DURATION + position, 0))


#: The natural history :func:`sample_courses` draws from (the variant's parameters, per age band where arrays).
CourseParameters = namedtuple("CourseParameters", [
    "duration_mu", "duration_sigma", "duration_fixed", "peak_after_onset_days", "peak_log10_mean", "peak_log10_sd",
    "detection_limit_log10", "threshold_log10", "asymptomatic_fraction", "asymptomatic_relative", "dispersion_k",
    "mean_relative", "severe_probability", "critical_probability", "death_probability", "severity_multiplier",
    "severe_effectiveness", "death_effectiveness", "fatality", "eclipse_days"])
#: The per-agent arrays :func:`sample_courses` reads (age, doses, district) and writes (compartment, viral load).
CoursePeople = namedtuple("CoursePeople", [
    "age", "vaccine_doses", "compartment", "day_viral_detectable", "day_viral_peak", "day_viral_clear",
    "viral_peak_log10", "district_id"])


@njit(cache=True, nogil=True, parallel=True)
def sample_courses(ids, day, seed, parameters, people, course, scale, infected_by_district, infected_by_age_band):
    """Sample the whole course of each agent in ``ids`` (infected on ``day``) and make it EXPOSED.

    The course, per agent (all durations log-normal, rounded to whole days, at least 1):

    * viral load: peak ``peak_after_onset_days`` after (would-be) symptom onset (incubation), first
      detectable ``rise`` days before the peak but not before ``eclipse_days`` after infection, clear
      ``clearance`` days after the peak; peak log10 load
      Normal(``peak_log10_mean``, ``peak_log10_sd``) clipped to [limit + 0.5, 14];
    * first infectious day: the day after the load crosses ``threshold_log10`` (the peak day if it
      never does), and not before ``day + 1``;
    * asymptomatic with ``asymptomatic_fraction``; otherwise onset after the incubation, severe with
      P(severe | age band) x ``severity_multiplier`` x (1 - severe vaccine effectiveness), critical
      with P(critical | age band), fatal with P(death | age band) x (1 - VE death) / (1 - VE severe);
      or, when ``fatality`` (bands, 4) has rows, fatal with P(death | infected, age band, doses) =
      ``fatality[band, doses]`` (deaths among the symptomatic only; a fatal course passes through
      severe and critical, so P(severe) and P(critical | severe) are raised where they fall short of it);
    * outcome day: after the path's last stage (death or recovery); never before the last infectious
      day + 1 unless fatal, never before the first infectious day + 1;
    * infectiousness scale: (asymptomatic discount x Gamma(k, 1/k); no gamma factor when
      ``dispersion_k`` is 0) / ``mean_relative`` divided by the
      course's total viral weight, so that each course's expected weight is exactly 1.

    The viral-load days and peak go to the per-agent arrays (indexed by agent); the clinical days go
    to row ``a`` of ``course`` (m, COURSE_COLUMNS) int16 and the infectiousness scale to ``scale[a]``
    (m,) float32, aligned with ``ids``. Every draw is a hash of (``seed``, agent, stream), so the
    result is the same whatever the thread count and whatever the order of ``ids``. Adds the
    number infected by district and by 10-year age band to ``infected_by_district`` (D,) and
    ``infected_by_age_band`` (B,) int64 (``district_id`` (n,) int8). Returns the largest outcome
    day written
    (the caller checks it against the int16 day range).

    ``parameters`` is a :class:`CourseParameters` (the variant's natural history: the names above),
    ``people`` a :class:`CoursePeople` (the per-agent arrays read and written).
    """
    duration_mu, duration_sigma, duration_fixed = parameters.duration_mu, parameters.duration_sigma, parameters.duration_fixed
    peak_after_onset_days, peak_log10_mean = parameters.peak_after_onset_days, parameters.peak_log10_mean
    peak_log10_sd, detection_limit_log10 = parameters.peak_log10_sd, parameters.detection_limit_log10
    threshold_log10, asymptomatic_fraction = parameters.threshold_log10, parameters.asymptomatic_fraction
    asymptomatic_relative, dispersion_k = parameters.asymptomatic_relative, parameters.dispersion_k
    mean_relative, severe_probability = parameters.mean_relative, parameters.severe_probability
    critical_probability, death_probability = parameters.critical_probability, parameters.death_probability
    severity_multiplier, severe_effectiveness = parameters.severity_multiplier, parameters.severe_effectiveness
    death_effectiveness, fatality = parameters.death_effectiveness, parameters.fatality
    age, vaccine_doses, compartment, district_id = people.age, people.vaccine_doses, people.compartment, people.district_id
    day_viral_detectable, day_viral_peak = people.day_viral_detectable, people.day_viral_peak
    day_viral_clear, viral_peak_log10 = people.day_viral_clear, people.viral_peak_log10
    m = ids.size
    bands = severe_probability.size
    latest = np.zeros(SCAN_CHUNKS, dtype=np.int64)
    by_district = np.zeros((SCAN_CHUNKS, infected_by_district.size), dtype=np.int64)
    by_band = np.zeros((SCAN_CHUNKS, infected_by_age_band.size), dtype=np.int64)
    chunk = (m + SCAN_CHUNKS - 1) // SCAN_CHUNKS
    for c in prange(SCAN_CHUNKS):
        top = 0
        for a in range(c * chunk, min(m, (c + 1) * chunk)):
            i = ids[a]
            by_district[c, district_id[i]] += 1
            by_band[c, min(age[i] // 10, infected_by_age_band.size - 1)] += 1
            incubation = _duration(DUR_INCUBATION, seed, i, duration_mu, duration_sigma, duration_fixed)
            rise = _duration(DUR_RISE, seed, i, duration_mu, duration_sigma, duration_fixed)
            clearance = _duration(DUR_CLEARANCE, seed, i, duration_mu, duration_sigma, duration_fixed)
            peak_time = incubation + peak_after_onset_days
            detectable = day + max(parameters.eclipse_days, np.int64(np.rint(peak_time - rise)))
            peak = max(detectable + 1, day + np.int64(np.rint(peak_time)))
            clear = peak + max(1, np.int64(np.rint(clearance)))
            top_load = peak_log10_mean + peak_log10_sd * hash_normal(seed, i, _ST_PEAK, 0)
            top_load = np.float32(min(max(top_load, detection_limit_log10 + 0.5), 14.0))
            # total viral weight above the infectious threshold, and the last infectious day
            weight, last_infectious = course_viral_weight(detectable, peak, clear, top_load, detection_limit_log10,
                                                          threshold_log10)
            ever = weight > 0.0
            if ever:
                span = max(peak - detectable, 1)
                crossing = detectable + (threshold_log10 - detection_limit_log10) / (top_load - detection_limit_log10) * span
                first_infectious = np.int64(math.floor(crossing)) + 1
            else:
                first_infectious = peak
            first_infectious = max(first_infectious, day + 1)

            asymptomatic = hash_uniform(seed, i, _ST_ASYMPTOMATIC, 0) < asymptomatic_fraction
            band = min(age[i] // 10, bands - 1)
            doses = vaccine_doses[i]
            severe_cut = severe_effectiveness[doses]
            death_cut = death_effectiveness[doses]
            p_severe = min(1.0, severe_probability[band] * severity_multiplier * (1.0 - severe_cut))
            extra = (1.0 - death_cut) / (1.0 - severe_cut) if severe_cut < 1.0 else 1.0
            p_death = min(1.0, death_probability[band] * min(extra, 1.0))
            p_critical = critical_probability[band]
            if fatality.shape[0] > 0:  # observed fatality by age and doses decides who dies
                p_fatal = min(1.0, fatality[band, doses] / (1.0 - asymptomatic_fraction))
                p_severe = max(p_severe, p_fatal)
                fatal_if_severe = p_fatal / p_severe if p_severe > 0.0 else 0.0
                p_critical = max(p_critical, fatal_if_severe)
                p_death = fatal_if_severe / p_critical if p_critical > 0.0 else 0.0
            severe = (not asymptomatic) and hash_uniform(seed, i, _ST_SEVERE, 0) < p_severe
            critical = severe and hash_uniform(seed, i, _ST_CRITICAL, 0) < p_critical
            fatal = critical and hash_uniform(seed, i, _ST_DEATH, 0) < p_death

            symptomatic_day = -1
            severe_day = -1
            critical_day = -1
            if asymptomatic:
                outcome = first_infectious + 1
            else:
                symptomatic_day = day + max(1, np.int64(np.rint(incubation)))
                outcome = symptomatic_day + max(1, np.int64(np.rint(_duration(
                    DUR_MILD_RECOVERY, seed, i, duration_mu, duration_sigma, duration_fixed))))
            if severe:
                severe_day = symptomatic_day + max(1, np.int64(np.rint(_duration(
                    DUR_ONSET_TO_SEVERE, seed, i, duration_mu, duration_sigma, duration_fixed))))
                outcome = severe_day + max(1, np.int64(np.rint(_duration(
                    DUR_SEVERE_RECOVERY, seed, i, duration_mu, duration_sigma, duration_fixed))))
            if critical:
                critical_day = severe_day + max(1, np.int64(np.rint(_duration(
                    DUR_SEVERE_TO_CRITICAL, seed, i, duration_mu, duration_sigma, duration_fixed))))
                outcome = critical_day + max(1, np.int64(np.rint(_duration(
                    DUR_CRITICAL_RECOVERY, seed, i, duration_mu, duration_sigma, duration_fixed))))
            if fatal:
                outcome = critical_day + max(1, np.int64(np.rint(_duration(
                    DUR_CRITICAL_TO_DEATH, seed, i, duration_mu, duration_sigma, duration_fixed))))
            else:
                # nobody leaves the infected compartments while still infectious (keeps R0 exact)
                outcome = max(outcome, last_infectious + 1)
            outcome = max(outcome, first_infectious + 1)

            relative = asymptomatic_relative if asymptomatic else 1.0
            if dispersion_k > 0.0:
                relative *= hash_gamma(dispersion_k, seed, i, _ST_DISPERSION) / dispersion_k / mean_relative
            else:  # no overdispersion
                relative /= mean_relative

            compartment[i] = _E
            course[a, COURSE_INFECTIOUS] = first_infectious
            course[a, COURSE_SYMPTOMATIC] = symptomatic_day
            course[a, COURSE_SEVERE] = severe_day
            course[a, COURSE_CRITICAL] = critical_day
            course[a, COURSE_OUTCOME] = min(outcome, 32767)
            course[a, COURSE_FATAL] = 1 if fatal else 0
            course[a, COURSE_NEXT_CHANGE] = 0
            course[a, COURSE_LAST_INFECTIOUS] = last_infectious
            day_viral_detectable[i] = detectable
            day_viral_peak[i] = peak
            day_viral_clear[i] = clear
            viral_peak_log10[i] = top_load
            scale[a] = relative / weight if ever else 0.0
            top = max(top, outcome)
        latest[c] = top
    for c in range(SCAN_CHUNKS):
        for d in range(infected_by_district.size):
            infected_by_district[d] += by_district[c, d]
        for b in range(infected_by_age_band.size):
            infected_by_age_band[b] += by_band[c, b]
    return latest.max()


@njit(cache=True, nogil=True)
def outcomes_by_dose_count(vaccine_doses, compartment, doses):
    """People ever infected (not susceptible) and dead, by vaccine doses ``0 .. doses - 1``, in one
    pass without agent-sized temporaries; (2, doses) int64. Other dose counts are left out.

    Parameters
    ----------
    vaccine_doses, compartment : (n,) int8
    doses : int
    """
    out = np.zeros((2, doses), dtype=np.int64)
    susceptible = np.int8(Compartment.SUSCEPTIBLE)
    dead = np.int8(Compartment.DEAD)
    for i in range(vaccine_doses.size):
        state = compartment[i]
        if state == susceptible:
            continue
        k = vaccine_doses[i]
        if k < 0 or k >= doses:
            continue
        out[0, k] += 1
        if state == dead:
            out[1, k] += 1
    return out
