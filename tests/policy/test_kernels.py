"""Policy kernels agree with NumPy references."""

from __future__ import annotations

import numpy as np

from zerosim.policy.kernels import assign_health_codes, resolve_confinement
from zerosim.population.state import (
    Compartment,
    HealthCode,
    IsolationStatus,
    Mobility,
    QuarantineStatus,
    TestResult,
    ZoneLevel,
)


def random_policy_state(n=20_000, seed=3):
    rng = np.random.default_rng(seed)
    return dict(
        compartment=rng.integers(0, len(Compartment), n).astype(np.int8),
        isolation_status=rng.integers(0, len(IsolationStatus), n).astype(np.int8),
        quarantine_status=rng.integers(0, len(QuarantineStatus), n).astype(np.int8),
        day_quarantine_start=rng.integers(0, 10, n).astype(np.int16),
        test_result=rng.integers(0, len(TestResult), n).astype(np.int8),
        day_last_swab=rng.integers(-1, 10, n).astype(np.int16),
        consecutive_negatives=rng.integers(0, 15, n).astype(np.int8),
        compound_id=rng.integers(0, 50, n).astype(np.int32),
        district_id=rng.integers(0, 4, n).astype(np.int8),
        compound_zone_level=rng.integers(0, len(ZoneLevel), 50).astype(np.int8),
    )


def reference_confinement(day, s, districts, pending_home, release_after, compliant):
    zone = s["compound_zone_level"][s["compound_id"]]
    iso, q = s["isolation_status"], s["quarantine_status"]
    level = np.full(iso.size, Mobility.FREE, dtype=np.int8)
    home = (np.isin(iso, [IsolationStatus.WAITING, IsolationStatus.HOME_MONITORING]) | (q == QuarantineStatus.WAITING_ROOM)
            | ((q == QuarantineStatus.HOME) & (day >= s["day_quarantine_start"])))
    if pending_home:
        home |= s["test_result"] == TestResult.PENDING_RETEST
    level[home] = Mobility.HOME
    released = (release_after > 0) & (s["consecutive_negatives"] >= release_after)
    sealed = zone == ZoneLevel.SEALED
    level[sealed & ~released] = Mobility.HOME
    level[sealed & released] = np.maximum(level[sealed & released], Mobility.COMPOUND)
    controlled = zone == ZoneLevel.CONTROLLED
    level[controlled] = np.maximum(level[controlled], Mobility.COMPOUND)
    escapes = (compliant == 0) & (iso != IsolationStatus.WAITING) & (q != QuarantineStatus.WAITING_ROOM)
    level[escapes] = Mobility.FREE
    facility = np.full(iso.size, -1, dtype=np.int32)
    central = q == QuarantineStatus.CENTRAL
    isolated = iso == IsolationStatus.ISOLATED
    level[central] = Mobility.FACILITY
    facility[central] = districts + s["district_id"][central]
    level[isolated] = Mobility.FACILITY
    facility[isolated] = s["district_id"][isolated]
    dead = s["compartment"] == Compartment.DEAD
    level[dead] = Mobility.HOME
    facility[dead] = -1
    return level, facility


def test_confinement_matches_reference():
    s = random_policy_state()
    compliant = (np.random.default_rng(9).random(s["compartment"].size) < 0.8).astype(np.int8)
    for pending_home, release_after in ((True, 0), (False, 10)):
        mobility = np.zeros(s["compartment"].size, dtype=np.int8)
        facility = np.zeros(s["compartment"].size, dtype=np.int32)
        resolve_confinement(5, s["compartment"], s["isolation_status"], s["quarantine_status"], s["day_quarantine_start"],
                            s["test_result"], s["consecutive_negatives"], s["compound_id"], s["district_id"],
                            s["compound_zone_level"], 4, pending_home, release_after, compliant,
                            np.zeros(s["compartment"].size, dtype=np.int8), np.zeros(12), np.uint64(1), mobility, facility)
        expected_level, expected_facility = reference_confinement(5, s, 4, pending_home, release_after, compliant)
        assert np.array_equal(mobility, expected_level)
        assert np.array_equal(facility, expected_facility)


def test_confinement_of_a_mostly_quiet_city_matches_reference():
    """Blocks of agents no policy touches are set FREE without the per-agent rules: the same result as
    the reference when most of the city is quiet, with yesterday's mobility and facilities
    overwritten, an AWAY agent kept as he is, and touched agents at block edges and in the tail."""
    n = 20_000
    rng = np.random.default_rng(5)
    s = random_policy_state(n)
    quiet = np.ones(n, dtype=bool)
    quiet[[0, 255, 256, 5_000, n - 1]] = False
    quiet[10_000:10_600] = False
    for name in ("isolation_status", "quarantine_status", "test_result"):
        s[name][quiet] = 0
    s["compartment"][quiet & (s["compartment"] == Compartment.DEAD)] = Compartment.SUSCEPTIBLE
    s["compound_id"] = (np.arange(n) // 300).astype(np.int32)
    s["compound_zone_level"] = np.zeros(n // 300 + 1, dtype=np.int8)
    s["compound_zone_level"][[3, 40]] = [ZoneLevel.SEALED, ZoneLevel.CONTROLLED]
    compliant = np.ones(n, dtype=np.int8)
    mobility = rng.integers(0, 4, n).astype(np.int8)  # yesterday's
    mobility[7_000] = Mobility.AWAY
    facility = rng.integers(-1, 8, n).astype(np.int32)
    away_facility = facility[7_000]
    resolve_confinement(5, s["compartment"], s["isolation_status"], s["quarantine_status"], s["day_quarantine_start"],
                        s["test_result"], s["consecutive_negatives"], s["compound_id"], s["district_id"],
                        s["compound_zone_level"], 4, True, 0, compliant, np.zeros(n, dtype=np.int8), np.zeros(12),
                        np.uint64(1), mobility, facility)
    expected_level, expected_facility = reference_confinement(5, s, 4, True, 0, compliant)
    expected_level[7_000], expected_facility[7_000] = Mobility.AWAY, away_facility
    assert np.array_equal(mobility, expected_level)
    assert np.array_equal(facility, expected_facility)


def test_essential_workers_keep_working_through_sealed_zones():
    """The exempt share of a sector's workers is FREE in a sealed compound, the same workers on every call;
    nobody isolated or quarantined is exempt."""
    n = 20_000
    zeros8 = np.zeros(n, dtype=np.int8)
    sector = np.full(n, 5, dtype=np.int8)  # logistics
    sector[: n // 4] = 4  # office: not exempt
    exempt = np.zeros(12)
    exempt[5] = 0.3
    quarantine = zeros8.copy()
    quarantine[-100:] = 3  # central quarantine
    chosen = []
    for _ in range(2):
        mobility = np.zeros(n, dtype=np.int8)
        facility = np.zeros(n, dtype=np.int32)
        resolve_confinement(5, zeros8, zeros8, quarantine, np.zeros(n, dtype=np.int16), zeros8, zeros8,
                            np.zeros(n, dtype=np.int32), zeros8, np.array([3], dtype=np.int8), 1, True, 0,
                            np.ones(n, dtype=np.int8), sector, exempt, np.uint64(7), mobility, facility)
        assert np.all(mobility[: n // 4] == 2), "office workers stay sealed at home"
        assert np.all(mobility[-100:] == 3), "quarantined people stay in their facility"
        free = mobility[n // 4 : -100] == 0
        assert np.all(mobility[n // 4 : -100][~free] == 2)
        assert abs(free.mean() - 0.3) < 0.02
        chosen.append(free)
    assert np.array_equal(chosen[0], chosen[1])


def test_health_codes_match_reference():
    s = random_policy_state()
    day, validity = 6, 3
    for require in (False, True):
        codes = np.zeros(s["compartment"].size, dtype=np.int8)
        assign_health_codes(day, s["isolation_status"], s["quarantine_status"], s["day_quarantine_start"],
                            s["test_result"], s["day_last_swab"], require, validity, codes)
        iso, q = s["isolation_status"], s["quarantine_status"]
        red = np.isin(iso, [IsolationStatus.WAITING, IsolationStatus.ISOLATED]) | np.isin(
            q, [QuarantineStatus.PENDING, QuarantineStatus.WAITING_ROOM, QuarantineStatus.CENTRAL])
        yellow = (((q == QuarantineStatus.HOME) & (day >= s["day_quarantine_start"])) | (iso == IsolationStatus.HOME_MONITORING)
                  | (s["test_result"] == TestResult.PENDING_RETEST))
        if require:
            recent = (s["day_last_swab"] >= 0) & (day - s["day_last_swab"] < validity) & (s["test_result"] == TestResult.NEGATIVE)
            yellow |= ~recent
        expected = np.where(red, HealthCode.RED, np.where(yellow, HealthCode.YELLOW, HealthCode.GREEN))
        assert np.array_equal(codes, expected)
