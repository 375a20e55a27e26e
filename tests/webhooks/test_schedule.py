from __future__ import annotations

import random
from datetime import timedelta
from email.utils import format_datetime

import pytest

from conduit.db.base import utcnow
from conduit.webhooks import schedule
from conduit.webhooks.schedule import Outcome

HOUR = 3600


def test_the_schedule_is_the_standard_one() -> None:
    delays = [schedule.scheduled_delay(n) for n in range(1, 9)]
    assert delays == [5, 300, 1800, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR, None]
    assert schedule.MAX_ATTEMPTS == 8
    assert schedule.SCHEDULE[0] == 0  # the first attempt goes out at once


def test_jitter_stays_within_twenty_percent_and_varies() -> None:
    rng = random.Random(7)
    for attempt in range(1, 8):
        base = schedule.scheduled_delay(attempt)
        assert base is not None
        samples = [schedule.next_delay(attempt, rng=rng) for _ in range(200)]
        assert all(s is not None and 0.8 * base <= s <= 1.2 * base for s in samples)
        assert len(set(samples)) > 100
        # Both halves of the band are used, not just one side.
        assert min(s for s in samples if s is not None) < base < max(s for s in samples if s is not None)


def test_no_delay_after_the_last_attempt() -> None:
    assert schedule.next_delay(8) is None
    assert schedule.next_delay(8, retry_after=60) is None


@pytest.mark.parametrize(
    ("attempt", "retry_after", "expected"),
    [
        (1, 1, 5),  # asking for less than planned: the plan wins
        (1, 7, 7),
        (1, 3600, 10),  # asking for an hour after the first failure: at most twice the plan
        (2, 450, 450),
        (3, 0, 1800),
    ],
)
def test_retry_after_is_clamped_between_one_and_two_times_the_schedule(
    attempt: int, retry_after: float, expected: float
) -> None:
    assert schedule.next_delay(attempt, retry_after=retry_after) == expected


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (202, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (299, Outcome.SUCCESS),
        (301, Outcome.RETRY),
        (302, Outcome.RETRY),
        (307, Outcome.RETRY),
        (400, Outcome.RETRY),
        (401, Outcome.RETRY),
        (404, Outcome.RETRY),
        (410, Outcome.DISABLE),
        (429, Outcome.THROTTLE),
        (500, Outcome.RETRY),
        (502, Outcome.THROTTLE),
        (503, Outcome.RETRY),
        (504, Outcome.THROTTLE),
        (None, Outcome.RETRY),
        (100, Outcome.RETRY),
    ],
)
def test_classification(status: int | None, outcome: Outcome) -> None:
    assert schedule.classify(status) is outcome


def test_retry_after_parsing() -> None:
    assert schedule.parse_retry_after("120") == 120
    assert schedule.parse_retry_after(" 5 ") == 5
    assert schedule.parse_retry_after(None) is None
    assert schedule.parse_retry_after("soon") is None
    assert schedule.parse_retry_after("-3") is None
    later = schedule.parse_retry_after(format_datetime(utcnow() + timedelta(minutes=10), usegmt=True))
    assert later is not None and 500 < later <= 600
    assert schedule.parse_retry_after(format_datetime(utcnow() - timedelta(minutes=10), usegmt=True)) == 0


def test_timeouts() -> None:
    assert schedule.DEFAULT_TIMEOUT == 15
    assert schedule.validate_timeout(1) == 1.0
    assert schedule.validate_timeout(30) == 30.0
    for bad in (0.5, 31, 0, -1):
        with pytest.raises(ValueError, match="between 1 and 30 seconds"):
            schedule.validate_timeout(bad)
    with pytest.raises(ValueError, match="number of seconds"):
        schedule.validate_timeout("15")  # type: ignore[arg-type]


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        schedule.next_delay(0)


def test_pause_after_a_slow_down_answer() -> None:
    assert schedule.pause_for(None) == schedule.DEFAULT_PAUSE
    assert schedule.pause_for(0) == 1
    assert schedule.pause_for(120) == 120
    assert schedule.pause_for(86_400) == schedule.MAX_PAUSE
