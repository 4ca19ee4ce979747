"""`spread-checks` and `max-spread-checks`: when checks run, as HAProxy 2.6 times them."""

from __future__ import annotations

import random

import pytest

from balancekit.config import load_text
from balancekit.health import spread_interval


def test_spread_moves_each_interval_by_up_to_the_percentage_either_way() -> None:
    assert spread_interval(2.0, 0, 0.9) == 2.0
    assert spread_interval(2.0, 50, 0.0) == 3.0  # draw 0: the whole spread added
    assert spread_interval(2.0, 50, 1.0) == 1.0  # draw 1: the whole spread taken off
    assert spread_interval(2.0, 10, 0.5) == 2.0
    rng = random.Random(7)
    drawn = [spread_interval(2.0, 20, rng.random()) for _ in range(2000)]
    assert 1.6 <= min(drawn) < 1.65 and 2.35 < max(drawn) <= 2.4


def test_global_settings_and_haproxys_errors() -> None:
    text = "global\n    spread-checks 5\n    max-spread-checks 2s\n"
    g = load_text(text, env={}).config.global_
    assert (g.spread_checks, g.max_spread_checks) == (5, 2.0)
    with pytest.raises(Exception, match=r"'spread-checks' needs a positive value in range 0\.\.50"):
        load_text("global\n    spread-checks 60\n", env={})
    with pytest.raises(Exception, match="'spread-checks' expects an integer argument"):
        load_text("global\n    spread-checks\n", env={})
