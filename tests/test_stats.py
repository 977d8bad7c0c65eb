"""Job stats: every run a real worker ends is counted by queue and method, minute and hour, with its
duration and wait; a failed attempt that is retried counts as a failed run; bad ranges are refused."""

import math
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

import jobkit
from jobkit import Retry
from jobkit.engine import stats
from jobkit.engine.health import metrics
from tests.conftest import NAMESPACE
from tests.workers import run_burst_worker, wait_for

FAST = Retry(max_attempts=2, backoff=0.2, max_backoff=1, jitter=False)


def _row(summary: dict, method: str) -> dict:
	[row] = [row for row in summary["methods"] if row["method"] == method]
	return row


@pytest.mark.parametrize("worker_class", ["jobkit", "jobkit simple"])
def test_runs_failures_durations_and_waits_are_counted_per_queue_and_method(
	host, conn, redis_url, worker_class
):
	for _ in range(3):
		jobkit.enqueue("tests.fixtures.tracked_run", queue="short", nonce="n", seconds=0.06)
	jobkit.enqueue("tests.fixtures.fail", queue="default", message="bad row")
	enqueued = time.time()
	time.sleep(0.3)  # every job waits at least this long before its start
	run_burst_worker(redis_url, queues=("short", "default"), worker_class=worker_class)
	summary = jobkit.job_stats(since=datetime.fromtimestamp(enqueued - 60, timezone.utc))

	tracked = _row(summary, "tests.fixtures.tracked_run")
	assert (tracked["queue"], tracked["runs"], tracked["failures"]) == ("short", 3, 0)
	assert tracked["total_seconds"] >= 0.18
	# Each run slept 60 ms: its bucket is (50, 100] ms or, on a slow machine, a later one.
	assert tracked["p50_ms"] >= 50 and tracked["p95_ms"] >= tracked["p50_ms"]
	assert tracked["mean_wait_ms"] >= 300
	failed = _row(summary, "tests.fixtures.fail")
	assert (failed["queue"], failed["runs"], failed["failures"], failed["failure_rate"]) == (
		"default",
		1,
		1,
		1.0,
	)
	assert summary["total"]["runs"] == 4
	assert summary["queues"]["short"]["runs"] == 3
	assert sum(point["runs"] for point in summary["series"]) == 4
	# The busiest method by total time comes first.
	assert summary["methods"][0]["method"] == "tests.fixtures.tracked_run"


def test_an_attempt_that_fails_and_is_retried_counts_as_a_failed_run(host, conn, running):
	handle = jobkit.enqueue("tests.fixtures.flaky", retry=FAST, key="f", failures=1)
	wait_for(lambda: handle.status == "finished", "the second attempt to succeed")
	wait_for(lambda: jobkit.job_stats()["total"]["runs"] == 2, "the second run's stats")
	row = _row(jobkit.job_stats(), "tests.fixtures.flaky")
	assert (row["runs"], row["failures"]) == (2, 1)


def test_a_minute_an_hour_and_the_totals_hold_the_same_runs_and_search_finds_them(host, conn, redis_url):
	handles = [jobkit.enqueue("tests.fixtures.add", a=1, b=i) for i in range(3)]
	run_burst_worker(redis_url, worker_class="jobkit")
	now = datetime.now(timezone.utc)
	by_minute = jobkit.job_stats(since=now - timedelta(minutes=5), resolution="minute")
	by_hour = jobkit.job_stats(since=now - timedelta(hours=2), resolution="hour")
	for summary in (by_minute, by_hour):
		assert _row(summary, "tests.fixtures.add")["runs"] == 3
	assert len(by_minute["series"]) == 6 and len(by_hour["series"]) == 3
	assert stats.totals(conn, NAMESPACE)["default", "tests.fixtures.add"].runs == 3
	assert stats.methods(conn, NAMESPACE, contains="FIXTURES.ad") == ["tests.fixtures.add"]
	recent = [rq_id for rq_id, _ in stats.recent(conn, NAMESPACE, "tests.fixtures.add")]
	assert sorted(recent) == sorted(handle.rq_id for handle in handles)


def test_the_totals_are_prometheus_counters_and_a_histogram(host, conn, redis_url):
	jobkit.enqueue("tests.fixtures.add", a=1, b=2)
	jobkit.enqueue("tests.fixtures.fail", message="no")
	run_burst_worker(redis_url, worker_class="jobkit")
	text = metrics.render_stats(stats.totals(conn, NAMESPACE), NAMESPACE)
	site = f'site="{NAMESPACE}",queue="default"'
	assert f'jobkit_job_runs_total{{{site},method="tests.fixtures.add"}} 1' in text
	assert f'jobkit_job_failures_total{{{site},method="tests.fixtures.fail"}} 1' in text
	assert f'jobkit_job_duration_seconds_bucket{{{site},method="tests.fixtures.add",le="+Inf"}} 1' in text
	assert f'jobkit_job_duration_seconds_count{{{site},method="tests.fixtures.add"}} 1' in text
	assert "# TYPE jobkit_job_duration_seconds histogram" in text


def test_bad_ranges_are_refused_with_what_to_do(host):
	now = datetime.now(timezone.utc)
	with pytest.raises(jobkit.InvalidArgument, match="is after until"):
		jobkit.job_stats(since=now, until=now - timedelta(minutes=1))
	with pytest.raises(jobkit.InvalidArgument, match="resolution must be 'minute' or 'hour'"):
		jobkit.job_stats(resolution="day")
	with pytest.raises(jobkit.InvalidArgument, match="read hours, or a shorter range"):
		jobkit.job_stats(since=now - timedelta(days=30), resolution="minute")
	with pytest.raises(jobkit.InvalidArgument, match="must be datetimes"):
		jobkit.job_stats(since="yesterday")
	# A naive datetime is read as UTC.
	assert jobkit.job_stats(since=datetime.utcnow() - timedelta(minutes=2))["total"]["runs"] == 0


@given(st.lists(st.floats(min_value=0, max_value=5_000_000), min_size=1, max_size=200), st.floats(0.01, 1))
def test_a_percentile_read_off_the_histogram_lies_in_the_true_percentiles_bucket(durations, share):
	figures = stats.Figures()
	for duration in durations:
		figures.buckets[stats.bucket_of(duration)] += 1
	figures.runs = len(durations)
	estimate = figures.percentile_ms(share)
	# The smallest duration that at least `share` of the runs stayed within.
	true = sorted(durations)[max(math.ceil(share * len(durations)) - 1, 0)]
	index = stats.bucket_of(true)
	low = stats.BUCKETS_MS[index - 1] if index else 0
	high = stats.BUCKETS_MS[index] if index < len(stats.BUCKETS_MS) else low
	assert low <= estimate <= high


def test_a_run_is_recorded_after_redis_forgot_the_script_and_with_more_commands_in_its_round_trip(conn):
	conn.script_flush()  # a restarted Redis: the script is sent again, the run counted once
	stats.record(
		conn, NAMESPACE, "default", "tests.fixtures.add", 12.0, 3.0, False, "rq-1",
		also=lambda pipe: pipe.set("jobkit-test:also", 1, nx=True),
	)  # fmt: skip
	assert conn.get("jobkit-test:also") == b"1"  # the other command ran (twice: it must be safe to)
	stats.record(conn, NAMESPACE, "default", "tests.fixtures.add", 30.0, 1.0, True)
	[figures] = stats.totals(conn, NAMESPACE).values()
	assert (figures.runs, figures.failures, figures.duration_ms, figures.wait_ms) == (2, 1, 42, 4)
	assert stats.recent(conn, NAMESPACE, "tests.fixtures.add")[0][0] == "rq-1"
