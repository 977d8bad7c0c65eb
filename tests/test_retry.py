"""The retry policy and its backoff: pure code, so no Redis or worker is needed here."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jobkit
from jobkit.engine.retries import EQUAL_JITTER, FULL_JITTER, NO_JITTER, Retry, compute_backoff


def test_exact_schedule_without_jitter():
	policy = Retry(max_attempts=8, backoff=10, max_backoff=300, jitter=False)
	assert [policy.delay(attempt) for attempt in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]


def test_a_huge_attempt_number_stays_at_the_cap():
	assert compute_backoff(10_000, backoff=1, max_backoff=60, jitter=NO_JITTER) == 60


@given(
	attempt=st.integers(min_value=1, max_value=200),
	backoff=st.floats(min_value=0.001, max_value=1000),
	cap_factor=st.floats(min_value=1, max_value=1000),
	rand=st.floats(min_value=0, max_value=1, exclude_max=True),
)
def test_jitter_stays_within_its_bounds(attempt, backoff, cap_factor, rand):
	max_backoff = backoff * cap_factor
	ceiling = min(max_backoff, backoff * 2 ** (attempt - 1))
	full = compute_backoff(
		attempt, backoff=backoff, max_backoff=max_backoff, jitter=FULL_JITTER, rand=lambda: rand
	)
	equal = compute_backoff(
		attempt, backoff=backoff, max_backoff=max_backoff, jitter=EQUAL_JITTER, rand=lambda: rand
	)
	assert 0 <= full <= ceiling
	assert ceiling / 2 <= equal <= ceiling


def test_jitter_true_means_full_and_varies():
	policy = Retry(backoff=10, jitter=True)
	assert policy.jitter == FULL_JITTER
	assert len({round(policy.delay(3), 6) for _ in range(50)}) > 1


@pytest.mark.parametrize(
	("options", "message"),
	[
		({"max_attempts": 0}, "at least 1"),
		({"max_attempts": -3}, "at least 1"),
		({"max_attempts": 2.5}, "whole number"),
		({"backoff": 0}, "positive number"),
		({"max_backoff": -1}, "positive number"),
		({"backoff": 100, "max_backoff": 10}, "above the cap"),
		({"jitter": "gaussian"}, "jitter='gaussian'"),
		({"retry_on": "ConnectionError"}, "exception class"),
		({"give_up_on": (ValueError, 42)}, "42 is not an exception class"),
	],
)
def test_invalid_policies_are_refused_with_a_clear_error(options, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		Retry(**options)


def test_repr_reads_like_the_call():
	policy = Retry(max_attempts=3, backoff=5, max_backoff=60, jitter="equal", retry_on=ConnectionError)
	assert repr(policy) == (
		"Retry(max_attempts=3, backoff=5s, max_backoff=60s, jitter='equal', "
		"retry_on=(ConnectionError,), give_up_on=())"
	)


def test_shorthands():
	assert Retry.coerce(3) == Retry(max_attempts=3)
	assert Retry.coerce(True) == Retry()
	assert Retry.coerce(None) is None and Retry.coerce(False) is None
	with pytest.raises(jobkit.InvalidArgument, match="retry='often'"):
		Retry.coerce("often")


def test_the_policy_travels_in_a_job_envelope():
	policy = Retry(max_attempts=4, backoff=2, retry_on=(ConnectionError,), give_up_on=(jobkit.InvalidMethod,))
	assert Retry.from_envelope(policy.to_envelope()) == policy
