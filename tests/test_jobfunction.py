"""@jobkit.job with real workers: defaults, explicit arguments, locks, and the scheduler hand-off."""

import pytest

import jobkit
from jobkit.engine.jobfunction import SCHEDULED_JOB_ID
from tests import fixtures
from tests.conftest import NAMESPACE, read_log
from tests.workers import run_burst_worker, start_worker, stop_workers, wait_for


class SchedulingHost(jobkit.RQHost):
	"""A plain-RQ host with a scheduler, as the Frappe host has: it reports the target it is running
	(Frappe: the ``job_type`` of ``run_scheduled_job``)."""

	target: str | None = None

	def scheduler_target(self) -> str | None:
		return self.target


def skipped(host) -> list:
	return [[r.reason, r.method, r.job_id, r.holder, r.holder_status] for r in host.skipped_runs.list()]


def test_enqueue_uses_the_declared_defaults(host, conn, redis_url):
	handle = fixtures.nightly_sync.enqueue(region="us")
	assert (handle.queue, handle.fetch().timeout) == ("long", 900)
	run_burst_worker(redis_url, queues=("long",))
	assert handle.fetch().return_value() == {"region": "us", "queue": "long", "timeout": 900, "attempt": 1}


def test_explicit_arguments_win(host, conn):
	handle = fixtures.nightly_sync.enqueue(queue="short", timeout=60, region="us")
	assert (handle.queue, handle.fetch().timeout) == ("short", 60)


def test_a_job_id_default_is_formatted_with_the_jobs_arguments(host, conn):
	first = fixtures.sync_customer.enqueue(customer="acme")
	again = fixtures.sync_customer.enqueue(customer="acme")
	other = fixtures.sync_customer.enqueue(customer="globex")
	assert (first.id, again.duplicate, other.duplicate) == ("sync::acme", True, False)
	with pytest.raises(jobkit.InvalidArgument, match="uses 'customer'"):
		fixtures.sync_customer.enqueue()


def test_calling_the_function_just_runs_it(host):
	assert fixtures.sync_customer("acme") == "acme synced"
	assert (
		fixtures.nightly_sync.__name__ == "nightly_sync"
		and "declared defaults" in fixtures.nightly_sync.__doc__
	)


def test_a_locked_job_never_runs_twice_at_once(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		held = fixtures.locked_report.enqueue(day="monday", hold_key="release")
		wait_for(lambda: read_log(conn, "release:log") == ["holding"], "the job to take the lock")
		with pytest.raises(jobkit.LockTimeout, match="report::monday"):
			fixtures.locked_report(day="monday")  # a direct call while the job runs
		assert fixtures.locked_report(day="tuesday") == "report for tuesday"
		conn.rpush("release", 1)
		wait_for(lambda: held.status == "finished", "the job to finish")
	finally:
		stop_workers(worker)
	assert fixtures.locked_report(day="monday") == "report for monday"


def test_a_scheduler_run_is_handed_off_and_never_overlaps_the_previous_one(redis_url, conn, no_host):
	scheduler_host = SchedulingHost(conn, NAMESPACE)
	jobkit.configure(host=scheduler_host)
	scheduler_host.target = "tests.fixtures.scheduled_cleanup"  # the scheduler is running it
	worker = start_worker(redis_url, queues=("long",))
	try:
		first = fixtures.scheduled_cleanup()
		assert (first.id, first.queue, first.fetch().timeout) == (
			SCHEDULED_JOB_ID.format(method="tests.fixtures.scheduled_cleanup"),
			"long",
			600,
		)
		wait_for(lambda: read_log(conn, "cleanup:runs"), "the first run to start")

		second = fixtures.scheduled_cleanup()  # the next tick, while the first run goes on
		assert second.duplicate and second.rq_id == first.rq_id
		assert skipped(scheduler_host) == [
			["overlap", "tests.fixtures.scheduled_cleanup", first.id, first.rq_id, "started"]
		]

		conn.rpush("cleanup:go", 1)
		wait_for(lambda: first.status == "finished", "the first run to end")
		third = fixtures.scheduled_cleanup()  # the tick after it ended runs again
		assert not third.duplicate
		conn.rpush("cleanup:go", 1)
		wait_for(lambda: third.status == "finished", "the next run to end")
	finally:
		stop_workers(worker)
	assert [run["queue"] for run in read_log(conn, "cleanup:runs")] == ["long", "long"]
	assert len(skipped(scheduler_host)) == 1


def test_a_decorated_function_outside_the_scheduler_runs_in_place(redis_url, conn, no_host):
	scheduler_host = SchedulingHost(conn, NAMESPACE)
	jobkit.configure(host=scheduler_host)
	scheduler_host.target = "tests.fixtures.nightly_sync"  # the scheduler runs another target
	conn.rpush("cleanup:go", 1)
	assert fixtures.scheduled_cleanup() is None
	assert read_log(conn, "cleanup:runs") == [{"queue": None, "id": None}]  # ran here, not as a job


@pytest.mark.parametrize(
	"options, message",
	[
		({"queue": "long", "customer": "x"}, "does not take customer"),
		({"retry": 0}, "retry"),
		({"lock": 42}, "lock= is True or a lock name"),
	],
)
def test_bad_decorator_options_are_refused(options, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		jobkit.job(**options)(lambda: None)
