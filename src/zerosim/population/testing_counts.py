"""Population layer: the slots of the ``testing_counts`` unit array.

The testing policy (:mod:`zerosim.policy.testing`) writes these counters and the ledger
(:mod:`zerosim.ledger.components`) reads some of them. The slot names live here, below both, so that
neither component layer imports the other (``tests/test_layers.py``).

Layer ``population`` -- imports the standard library only.
"""

from __future__ import annotations

from enum import IntEnum


class TestingCounter(IntEnum):
    """Slots of the ``testing_counts`` unit array (int64). *_TODAY slots are reset every step."""

    CUMULATIVE_CASES = 0  # cases detected so far (drives start_after_cases)
    SWABBED_TODAY = 1  # people swabbed today (campaigns, individual tests, re-tests)
    TUBES_PROCESSED_TODAY = 2
    LAB_BACKLOG = 3  # tubes waiting for the lab at the end of the day
    CASES_TODAY = 4
    FALSE_POSITIVES_TODAY = 5  # false-positive tubes reported today
    TURNAROUND_SUM_TODAY = 6  # sum over tubes reported today of (day - swab day)
    TUBES_REPORTED_TODAY = 7
    ANTIGEN_TESTS_TODAY = 8
    PENDING_REQUESTS = 9  # campaign requests not yet swabbed
    REQUESTED_TOTAL = 10  # campaign requests made so far
    CAMPAIGN_SWABBED_TOTAL = 11  # campaign requests swabbed so far
    CANCELLED_TOTAL = 12  # campaign requests dropped because the person died or was isolated
    RETESTS_TODAY = 13  # individual re-tests of positive pools swabbed today
