"""Job health: each finding comes from a real condition on a real Redis with real workers."""

import os
import signal
import time

import pytest

import jobkit
import jobkit.health
from jobkit.engine.health import Thresholds
from tests.workers import start_worker, stop_workers, wait_for

ALL_QUEUES = ("short", "default", "long")
# Long enough for the test to kill the worker before RQ's own timeout stops the job.
JOB_TIMEOUT = 3


def findings(report, check: str) -> list:
	return [finding for finding in report.findings if finding.check == check]


def queue(report, name: str):
	return next(q for q in report.queues if q.name == name)


@pytest.fixture
def workers_on_every_queue(redis_url):
	worker = start_worker(redis_url, queues=ALL_QUEUES)
	wait_for(lambda: all(queue(jobkit.health.check(), name).workers for name in ALL_QUEUES), "the worker")
	yield worker
	stop_workers(worker)


def test_a_healthy_setup_is_ok(host, workers_on_every_queue):
	report = jobkit.health.check()
	assert report.verdict == "OK", report.findings
	assert [(q.name, q.pending, q.workers, q.idle) for q in report.queues] == [
		(name, 0, 1, 1) for name in ALL_QUEUES
	]
	assert report.redis.eviction_policy == "noeviction"
	assert report.redis.round_trip_ms > 0


def test_jobs_waiting_with_no_worker_are_critical(host, redis_url):
	worker = start_worker(redis_url, queues=("default",))
	wait_for(lambda: queue(jobkit.health.check(), "default").workers, "the worker")
	stop_workers(worker)
	jobkit.enqueue("tests.fixtures.add", a=1, b=2)
	report = jobkit.health.check()
	assert report.verdict == "Critical"
	[finding] = [f for f in findings(report, "no_worker") if f.queue == "default"]
	assert finding.severity == "Critical"
	assert "1 job(s) wait on default and no live worker listens to it" in finding.message
	assert {f.queue for f in findings(report, "no_worker")} == set(ALL_QUEUES)  # empty ones too


def test_a_filled_queue_reports_its_depth_and_wait(host, conn):
	for n in range(1200):
		jobkit.enqueue("tests.fixtures.add", queue="long", a=n, b=1)
	time.sleep(1.2)
	report = jobkit.health.check(Thresholds(wait_warning=1, wait_critical=3600))
	long_queue = queue(report, "long")
	assert long_queue.pending == 1200
	assert long_queue.oldest_wait_seconds >= 1
	assert [f.severity for f in findings(report, "queue_depth")] == ["Warning"]
	[wait] = findings(report, "queue_wait")
	assert (wait.severity, wait.queue) == ("Warning", "long")


def test_a_job_whose_worker_was_killed_is_stuck(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		handle = jobkit.enqueue(
			"tests.fixtures.record_pid_and_wait", timeout=JOB_TIMEOUT, key="never", record_to="pid"
		)
		horse = int(wait_for(lambda: conn.lindex("pid", 0), "the job to start"))
		# The worker and its work-horse (RQ starts it in a session of its own): nobody stops the job.
		os.kill(worker.pid, signal.SIGKILL)
		os.kill(horse, signal.SIGKILL)
		worker.wait(timeout=30)
	finally:
		if worker.poll() is None:
			worker.kill()
	time.sleep(JOB_TIMEOUT + 0.5)  # past the job's timeout: a live worker would have stopped it
	report = jobkit.health.check(Thresholds(stuck_after_timeout=0))
	[stuck] = findings(report, "stuck_job")
	assert (stuck.severity, stuck.queue) == ("Critical", "default")
	assert handle.rq_id in stuck.message
	assert queue(report, "default").stuck == 1


def test_a_unique_key_held_for_a_job_that_is_gone_is_reported(host, conn):
	handle = jobkit.enqueue("tests.fixtures.add", job_id="sync::ACME", a=1, b=2)
	assert findings(jobkit.health.check(), "orphaned_unique_key") == []
	handle.fetch().delete()  # as an operator's `rq empty` or a flushed job would leave it
	report = jobkit.health.check()
	[orphan] = findings(report, "orphaned_unique_key")
	assert "sync::ACME" in orphan.message
	assert report.orphaned_unique_keys == 1


def test_a_delayed_job_past_due_and_not_promoted_is_reported(host):
	jobkit.enqueue("tests.fixtures.add", delay=0.1, a=1, b=2)
	time.sleep(0.3)
	report = jobkit.health.check(Thresholds(delayed_overdue_after=0.1))
	[overdue] = findings(report, "delayed_overdue")
	assert (overdue.severity, overdue.queue) == ("Warning", "default")
	assert jobkit.promote_due() == 1
	assert findings(jobkit.health.check(Thresholds(delayed_overdue_after=0.1)), "delayed_overdue") == []


def test_an_evicting_queue_redis_is_critical(host, conn):
	conn.config_set("maxmemory-policy", "allkeys-lru")
	try:
		report = jobkit.health.check()
	finally:
		conn.config_set("maxmemory-policy", "noeviction")
	[eviction] = findings(report, "redis_eviction")
	assert eviction.severity == "Critical" and report.verdict == "Critical"
	assert "maxmemory-policy allkeys-lru" in eviction.message


def test_the_report_renders_as_prometheus_gauges(host, redis_url):
	from jobkit.engine.health import metrics

	for n in range(3):
		jobkit.enqueue("tests.fixtures.add", queue="short", a=n, b=1)
	text = metrics.render(jobkit.health.check(), "test-site")
	lines = text.splitlines()
	assert 'jobkit_queue_pending{site="test-site",queue="short"} 3' in lines
	assert 'jobkit_workers{site="test-site",queue="short"} 0' in lines
	assert 'jobkit_verdict{site="test-site"} 2' in lines  # no worker: Critical
	assert "# TYPE jobkit_queue_oldest_wait_seconds gauge" in lines
	samples = [line for line in lines if not line.startswith("#")]
	assert all(len(line.rsplit(" ", 1)) == 2 and float(line.rsplit(" ", 1)[1]) >= 0 for line in samples)
