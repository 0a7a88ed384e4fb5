"""The load test's shape and its memory rule (tests/e2e/test_stress.py; the rule's own test is
tests/unit/test_stress.py): see tests/e2e/test_stress.py's docstring for why the rule is a median."""

from __future__ import annotations

import numpy as np

from tests.support.leaky_server import LEAK_BYTES

CLIENTS, ROUND, BAD_EVERY, DEADLINE_S = 16, 160, 10, 600
WARMUP_ROUNDS, MEASURED_ROUNDS = 8, 6
GROWTH_LIMIT = LEAK_BYTES / 3  # bytes per request; a leak of one decoded photo per request is 3x this


def growth_per_request(rss: list[int], requests_per_round: int) -> float:
    """Median round-to-round RSS growth over the measured rounds, in bytes per request.

    rss[0] is read after the warm-up rounds, rss[i] after measured round i."""
    return float(np.median(np.diff(rss))) / requests_per_round
