"""Retries with real workers and a real promoter: attempts, backoff, give-up, RetryLater, unique keys."""

import time

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

import jobkit
from jobkit import Retry
from jobkit.engine import keys
from tests.conftest import NAMESPACE, read_log
from tests.workers import start_promoter, start_worker, stop_workers, wait_for

FAST = Retry(max_attempts=3, backoff=0.2, max_backoff=1, jitter=False)


def test_a_transient_failure_is_retried_until_it_succeeds(host, conn, running):
	handle = jobkit.enqueue("tests.fixtures.flaky", retry=FAST, key="f", failures=2)
	wait_for(lambda: handle.status == "finished", "the third attempt to succeed")
	runs = read_log(conn, "f:runs")
	assert [run["attempt"] for run in runs] == [1, 2, 3]
	assert len({run["rq_id"] for run in runs}) == 3  # each attempt is its own RQ job
	assert handle.fetch().return_value() == "succeeded on run 3"


def test_max_attempts_reached_is_a_final_failure(host, conn, running):
	handle = jobkit.enqueue(
		"tests.fixtures.flaky", retry=FAST, on_failure="tests.fixtures.on_failure", key="f", failures=10
	)
	wait_for(lambda: handle.status == "failed", "the last attempt to fail")
	assert [run["attempt"] for run in read_log(conn, "f:runs")] == [1, 2, 3]
	# The job reads as failed once its failure is recorded, a moment before its callback runs.
	wait_for(lambda: read_log(conn, "callbacks"), "the failure callback")
	wait_for(lambda: Queue("default", connection=conn).started_job_registry.count == 0, "the run's end")
	[callback] = read_log(conn, "callbacks")  # once, for the final failure only
	assert callback["error"] == "ConnectionError: database gone (run 3)"


def test_an_error_that_is_not_transient_is_not_retried(host, conn, running):
	handle = jobkit.enqueue("tests.fixtures.flaky", retry=FAST, key="f", failures=1, error="value")
	wait_for(lambda: handle.status == "failed", "the job to fail")
	assert len(read_log(conn, "f:runs")) == 1


def test_give_up_on_stops_at_once(host, conn, running):
	policy = Retry(max_attempts=5, backoff=0.2, jitter=False, retry_on=ValueError, give_up_on=ConnectionError)
	handle = jobkit.enqueue("tests.fixtures.flaky", retry=policy, key="f", failures=3)
	wait_for(lambda: handle.status == "failed", "the job to fail")
	assert len(read_log(conn, "f:runs")) == 1


def test_retry_on_adds_errors_to_retry(host, conn, running):
	policy = Retry(max_attempts=3, backoff=0.2, jitter=False, retry_on=ValueError)
	handle = jobkit.enqueue("tests.fixtures.flaky", retry=policy, key="f", failures=1, error="value")
	wait_for(lambda: handle.status == "finished", "the retry to succeed")
	assert len(read_log(conn, "f:runs")) == 2


def test_retry_later_is_honoured_without_a_policy(host, conn, running):
	handle = jobkit.enqueue("tests.fixtures.flaky", key="f", failures=1, error="retry_later")
	wait_for(lambda: handle.status == "finished", "the job to run again")
	assert [run["attempt"] for run in read_log(conn, "f:runs")] == [1, 2]


def test_the_next_attempt_waits_its_backoff(host, conn, redis_url):
	worker = start_worker(redis_url)  # no promoter: the next attempt stays in the registry
	try:
		policy = Retry(max_attempts=3, backoff=300, max_backoff=3600, jitter=False)
		first = jobkit.enqueue("tests.fixtures.flaky", retry=policy, key="f", failures=5)
		registry = ScheduledJobRegistry("default", connection=conn)
		wait_for(lambda: registry.count == 1, "the second attempt to be scheduled")
		[(rq_id, due)] = conn.zrange(registry.key, 0, -1, withscores=True)
		assert abs(due - (time.time() + 300)) < 10
		assert first.fetch().id == rq_id.decode()  # the handle follows to the latest attempt
		assert first.status == "scheduled"
	finally:
		stop_workers(worker)


def test_the_unique_key_is_held_across_attempts_and_released_at_the_end(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		policy = Retry(max_attempts=2, backoff=300, jitter=False)
		first = jobkit.enqueue("tests.fixtures.flaky", job_id="sync", retry=policy, key="f", failures=1)
		wait_for(lambda: first.status == "scheduled", "the first attempt to fail")
		key = keys.unique(NAMESPACE, "sync")
		assert conn.get(key).decode() == first.fetch().id  # handed to the second attempt
		assert jobkit.enqueue("tests.fixtures.add", job_id="sync", a=1, b=1).duplicate
		assert jobkit.is_enqueued("sync")

		# Make the second attempt due now rather than in 300 s.
		conn.zadd(ScheduledJobRegistry("default", connection=conn).key, {first.fetch().id: 0})
		assert jobkit.promote_due() == 1
		wait_for(lambda: first.status == "finished", "the second attempt to succeed")
	finally:
		stop_workers(worker)
	assert conn.get(key) is None
	assert not jobkit.enqueue("tests.fixtures.add", job_id="sync", a=1, b=1).duplicate


def test_bad_retry_arguments_enqueue_nothing(host, conn):
	with pytest.raises(jobkit.InvalidArgument, match="retry='often'"):
		jobkit.enqueue("tests.fixtures.add", retry="often", a=1, b=1)
	with pytest.raises(jobkit.InvalidArgument, match="at least 1"):
		jobkit.enqueue("tests.fixtures.add", retry=0, a=1, b=1)
	from rq import Retry as RQRetry

	# What frappe.enqueue takes on Frappe's develop line: named, with jobkit's equivalent.
	with pytest.raises(jobkit.InvalidArgument, match=r"RQ's Retry .* jobkit.Retry\(max_attempts=4"):
		jobkit.enqueue("tests.fixtures.add", retry=RQRetry(max=3, interval=10), a=1, b=1)
	assert conn.keys("*") == []


def test_a_retry_whose_key_a_newer_copy_took_is_superseded_and_recorded(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		first = jobkit.enqueue("tests.fixtures.fail_when_told", job_id="r", retry=FAST, key="r", n=1)
		wait_for(lambda: read_log(conn, "r:runs"), "the first call to start")
		# Its key lapses while it runs (renewals that came too late), and a newer call takes it.
		conn.delete(keys.unique(NAMESPACE, "r"))
		newer = jobkit.enqueue("tests.fixtures.fail_when_told", job_id="r", retry=FAST, key="r", n=2)
		assert not newer.duplicate
		conn.rpush(f"r:{first.rq_id}", "fail")
		wait_for(lambda: first.status == "superseded", "the first call's retry to be superseded")
		assert first.superseded_by == newer.rq_id
		[skipped] = jobkit.skipped_runs().list()
		assert (skipped.reason, skipped.holder, skipped.rq_id, skipped.attempt) == (
			"superseded",
			newer.rq_id,
			first.rq_id,
			2,
		)
		assert skipped.kwargs == {"key": "r", "n": 1}
		assert skipped.error == "ConnectionError: upstream gone (r, call 1)"
		wait_for(lambda: len(read_log(conn, "r:runs")) == 2, "the newer call to start")
		conn.rpush(f"r:{newer.rq_id}", "ok")
		wait_for(lambda: newer.status == "finished", "the newer call to finish")
	finally:
		stop_workers(worker)
	assert [run["n"] for run in read_log(conn, "r:runs")] == [1, 2]  # attempt 2 of call 1 never ran
	assert jobkit.dead_letters().count() == 0
	assert not jobkit.is_enqueued("r")
