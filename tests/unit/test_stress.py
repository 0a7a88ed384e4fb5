"""The load test's memory rule (tests/support/stress_load.py) on RSS series shaped like the
measured ones; the load test itself is tests/e2e/test_stress.py (make stress)."""

from __future__ import annotations

import pytest

from tests.support.leaky_server import LEAK_BYTES
from tests.support.stress_load import GROWTH_LIMIT, MEASURED_ROUNDS, ROUND, growth_per_request


def test_growth_per_request_ignores_warm_up_steps_not_leaks():
    """The rule on RSS series shaped like the measured ones: a late warm-up step, a release,
    flat noise pass; a steady leak of one decoded photo per request fails."""
    mb = 2**20
    flat = [1500 * mb, 1517 * mb, 1517 * mb, 1518 * mb, 1518 * mb, 1519 * mb]
    released = [1500 * mb, 1520 * mb, 1490 * mb, 1491 * mb, 1491 * mb, 1492 * mb]
    assert growth_per_request(flat, ROUND) < GROWTH_LIMIT
    assert growth_per_request(released, ROUND) < GROWTH_LIMIT
    leak = [1500 * mb + i * ROUND * LEAK_BYTES for i in range(MEASURED_ROUNDS + 1)]
    assert growth_per_request(leak, ROUND) == pytest.approx(LEAK_BYTES)
    assert growth_per_request(leak, ROUND) >= GROWTH_LIMIT
