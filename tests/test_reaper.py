"""The reaper, with real workers killed for real: a run whose process died is retried under its
policy or recorded as failed, exactly once, and a run that is only slow or frozen is left alone."""

import os
import signal
import threading
import time

import pytest

import jobkit
from jobkit import Retry
from jobkit.engine import context, keys
from tests.conftest import NAMESPACE, SHORT_LEASE, read_log
from tests.workers import process_runs, start_promoter, start_worker, stop_workers, wait_for

# Short leases, so that a dead run is found within seconds.
LEASE = SHORT_LEASE
ONE_RETRY = Retry(max_attempts=2, backoff=0.2, jitter=False)


@pytest.fixture
def worker(redis_url):
	process = start_worker(redis_url)
	yield process
	stop_workers(process)


@pytest.fixture(params=["fork", "jobkit"])
def any_worker(request, redis_url):
	"""RQ's forking worker (the run renews its lease from a thread), or jobkit's (it renews the
	run's lease from the worker)."""
	process = start_worker(redis_url, worker_class=request.param)
	yield process
	stop_workers(process)


@pytest.fixture
def promoter(redis_url):
	"""The promoter, which also reaps the tests' namespace (0.1 s passes)."""
	process = start_promoter(redis_url)
	yield process
	process.terminate()
	_, errors = process.communicate(timeout=30)
	assert "Traceback" not in errors, errors


def first_run_pid(conn, key: str) -> int:
	wait_for(lambda: read_log(conn, f"{key}:runs"), "the first attempt to start")
	return read_log(conn, f"{key}:runs")[0]["pid"]


def test_a_killed_run_is_retried_under_its_policy(short_lease, conn, any_worker, promoter):
	handle = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", job_id="sync-1", retry=ONE_RETRY, key="k")
	os.kill(first_run_pid(conn, "k"), signal.SIGKILL)  # the work-horse: its worker lives on

	wait_for(lambda: handle.status == "finished", "the second attempt to finish")
	assert [run["attempt"] for run in read_log(conn, "k:runs")] == [1, 2]
	assert handle.fetch().return_value() == "finished on attempt 2"
	assert jobkit.dead_letters().count() == 0
	# The unique key went to the second attempt and was released when it ended.
	assert not jobkit.is_enqueued("sync-1")
	assert not jobkit.enqueue("tests.fixtures.add", job_id="sync-1", a=1, b=2).duplicate


def test_a_killed_run_without_a_policy_fails_for_good_once(short_lease, conn, worker, promoter):
	handle = jobkit.enqueue(
		"tests.fixtures.hang_on_first_attempt",
		job_id="export-7",
		on_failure="tests.fixtures.on_failure",
		key="k",
		token="sk-secret",
	)
	os.kill(first_run_pid(conn, "k"), signal.SIGKILL)

	wait_for(lambda: jobkit.dead_letters().count() == 1, "the lost run's dead letter")
	[letter] = jobkit.dead_letters().list()
	assert letter.method == "tests.fixtures.hang_on_first_attempt"
	assert letter.job_id == "export-7"
	assert letter.error.startswith("WorkerLost: the process running attempt 1 of tests.fixtures.hang_")
	assert "RQ says: Work-horse terminated unexpectedly" in letter.error
	assert letter.kwargs["token"] == "********"
	wait_for(lambda: read_log(conn, "callbacks"), "the on_failure callback")
	[callback] = read_log(conn, "callbacks")
	assert callback["error"].startswith("WorkerLost: ")
	assert callback["rq_id"] == handle.rq_id
	# Released: the same job id can be enqueued again at once, not after the key's TTL.
	assert not jobkit.is_enqueued("export-7")
	again = jobkit.enqueue("tests.fixtures.add", job_id="export-7", a=1, b=2)
	assert not again.duplicate
	wait_for(lambda: again.status == "finished", "the new run")
	# Reaped once: nothing is left for a later pass.
	time.sleep(LEASE * 2)
	assert jobkit.dead_letters().count() == 1
	assert len(read_log(conn, "callbacks")) == 1
	assert len(read_log(conn, "k:runs")) == 1


def test_a_lost_run_is_reaped_by_one_of_many_reapers(short_lease, conn, worker):
	handle = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", retry=ONE_RETRY, key="k")
	os.kill(first_run_pid(conn, "k"), signal.SIGKILL)

	outcomes = []
	ready = threading.Barrier(8)

	def reap_for_a_while():
		ready.wait()
		deadline = time.monotonic() + LEASE * 4
		while time.monotonic() < deadline:
			outcomes.extend(reaped.outcome for reaped in jobkit.reap())
			time.sleep(0.01)

	threads = [threading.Thread(target=reap_for_a_while) for _ in range(8)]
	for thread in threads:
		thread.start()
	for thread in threads:
		thread.join()
	assert outcomes == ["retried"]
	wait_for(lambda: jobkit.promote_due() or handle.status == "finished", "the retry to run")
	wait_for(lambda: handle.status == "finished", "the retry to finish")
	assert [run["attempt"] for run in read_log(conn, "k:runs")] == [1, 2]


def test_a_whole_worker_killed_is_reaped(short_lease, conn, redis_url, promoter):
	doomed = start_worker(redis_url)
	handle = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", retry=ONE_RETRY, key="k")
	horse = first_run_pid(conn, "k")
	# The worker and its work-horse (RQ gives it a session of its own), as on a lost machine.
	doomed.kill()
	os.kill(horse, signal.SIGKILL)
	doomed.wait()

	replacement = start_worker(redis_url)
	try:
		wait_for(lambda: handle.status == "finished", "the second attempt, on the new worker")
	finally:
		stop_workers(replacement)
	assert [run["attempt"] for run in read_log(conn, "k:runs")] == [1, 2]


def test_a_run_slower_than_its_lease_is_not_reaped(short_lease, conn, any_worker, promoter):
	handle = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", key="k", seconds=LEASE * 4)
	wait_for(lambda: handle.status == "finished", "the slow run to finish")
	assert len(read_log(conn, "k:runs")) == 1
	assert handle.fetch().return_value() == "finished on attempt 1"
	assert jobkit.dead_letters().count() == 0


@pytest.mark.parametrize("worker_class, renewal_threads", [("fork", 1), ("jobkit", 0)])
def test_the_lease_of_a_run_is_renewed_by_jobkits_worker_not_by_the_work_horse(
	short_lease, conn, redis_url, promoter, worker_class, renewal_threads
):
	worker = start_worker(redis_url, worker_class=worker_class)
	try:
		handle = jobkit.enqueue("tests.fixtures.record_threads_after", key="threads", seconds=LEASE * 3)
		wait_for(lambda: handle.status == "finished", "the run to finish")
	finally:
		stop_workers(worker)
	[run] = read_log(conn, "threads")
	assert run["threads"] == 1 + renewal_threads
	assert conn.zcard(keys.in_flight(NAMESPACE)) == 0
	assert jobkit.dead_letters().count() == 0


def test_a_work_horse_dies_with_its_jobkit_worker_and_its_run_is_retried(
	short_lease, conn, redis_url, promoter
):
	doomed = start_worker(redis_url, worker_class="jobkit")
	handle = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", retry=ONE_RETRY, key="k")
	horse = first_run_pid(conn, "k")
	doomed.kill()  # the worker alone: its work-horse, which it renewed the lease for, must not run on
	doomed.wait()
	wait_for(lambda: not process_runs(horse), "the work-horse to die with its worker")

	replacement = start_worker(redis_url, worker_class="jobkit")
	try:
		wait_for(lambda: handle.status == "finished", "the second attempt, on the new worker")
	finally:
		stop_workers(replacement)
	assert [run["attempt"] for run in read_log(conn, "k:runs")] == [1, 2]


def test_a_frozen_run_whose_worker_heartbeats_is_left_alone(short_lease, conn, redis_url, promoter):
	# SIGSTOP freezes the work-horse (and its lease renewals); its worker still heartbeats with the
	# job as its current one, so the run is alive and must not be run a second time.
	prompt = start_worker(redis_url, worker_class="prompt")
	try:
		handle = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", retry=ONE_RETRY, key="k", seconds=2)
		pid = first_run_pid(conn, "k")
		os.kill(pid, signal.SIGSTOP)
		time.sleep(LEASE * 4)
		os.kill(pid, signal.SIGCONT)
		wait_for(lambda: handle.status == "finished", "the thawed run to finish")
	finally:
		stop_workers(prompt)
	assert [run["attempt"] for run in read_log(conn, "k:runs")] == [1]
	assert handle.fetch().return_value() == "finished on attempt 1"


def test_reap_checks_its_limit(short_lease):
	for bad in (0, -1, 1.5, "10", True):
		with pytest.raises(jobkit.InvalidArgument, match="limit must be a whole number"):
			jobkit.reap(limit=bad)


def test_a_job_whose_worker_died_before_its_run_began_is_retried(short_lease, conn, redis_url):
	# RQ took the job and registered it as started (its own bookkeeping, done here by its own code),
	# then the worker vanished before the work-horse ran jobkit's runner: no in-flight entry exists.
	from rq import Queue, Worker
	from rq.registry import FailedJobRegistry, StartedJobRegistry

	from jobkit.engine import reaper

	handle = jobkit.enqueue("tests.fixtures.record", retry=ONE_RETRY, key="abandoned", value="ran")
	queue = Queue("default", connection=conn)
	dead_worker = Worker([queue], connection=conn, name="lost-machine")
	dead_worker.register_birth()
	job = queue.dequeue_any([queue], None, connection=conn)[0]
	if hasattr(dead_worker, "prepare_execution"):  # rq 2.x: the worker registers the execution
		dead_worker.prepare_execution(job)
	dead_worker.prepare_job_execution(job)  # the work-horse marks the job started, then dies
	started = StartedJobRegistry(queue=queue)
	assert job.id in started.get_job_ids()

	time.sleep(LEASE + 0.5)  # the worker's last heartbeat is older than a lease: it is gone
	assert jobkit.reap() == []  # RQ does not count the job abandoned yet: its heartbeat TTL runs
	# About 90 s later (RQ's heartbeat TTL) it does: ``now`` says when the reaper looks.
	[reaped] = reaper.reap(short_lease, now=time.time() + 120)
	assert (reaped.rq_id, reaped.outcome) == (handle.rq_id, "retried")
	assert job.id not in started.get_job_ids()
	assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
	assert job.get_status(refresh=True) == "failed"

	worker = start_worker(redis_url)
	promoter = start_promoter(redis_url)
	try:
		wait_for(lambda: read_log(conn, "abandoned"), "the retried attempt to run")
	finally:
		promoter.terminate()
		promoter.communicate(timeout=30)
		stop_workers(worker)
	assert read_log(conn, "abandoned") == ["ran"]
	assert reaper.reap(short_lease, now=time.time() + 120) == []  # taken once


def test_a_job_taken_by_a_worker_lost_before_its_work_horse_is_retried(
	short_lease, conn, redis_url, promoter
):
	# The worker takes the job off its queue and dies before forking: RQ has recorded nothing
	# (rq 1.x records the run in the work-horse), so only jobkit's worker knows of the job.
	handle = jobkit.enqueue("tests.fixtures.record", retry=ONE_RETRY, key="taken", value="ran")
	lost = start_worker(redis_url, worker_class="lost before its work-horse")
	assert lost.wait(timeout=30) == 9
	queue = short_lease.rq_queue("default")
	assert handle.rq_id not in queue.job_ids
	worker = start_worker(redis_url, worker_class="jobkit")
	try:
		wait_for(lambda: read_log(conn, "taken"), "the retried attempt to run")
	finally:
		stop_workers(worker)
	assert read_log(conn, "taken") == ["ran"]


def test_a_failed_attempt_whose_retry_cannot_be_written_is_left_to_the_reaper(
	short_lease, conn, worker, promoter
):
	# The next attempt carries the error of this one, which here cannot be written: the run ends
	# without its outcome, as when Redis or the database is unavailable at that moment. Its
	# in-flight entry stays, and the reaper retries the job once the entry's lease has run out.
	handle = jobkit.enqueue("tests.fixtures.fails_unprintably_once", retry=ONE_RETRY, key="u")
	wait_for(lambda: handle.status == "finished", "the reaper to retry the attempt whose outcome was lost")
	assert conn.get("u:done") and int(conn.get("u:attempts")) == 2


def test_a_killed_unique_run_whose_key_a_newer_copy_took_is_superseded_not_lost(short_lease, conn, redis_url):
	retry = Retry(max_attempts=3, backoff=1, jitter=False)
	doomed = start_worker(redis_url, worker_class="jobkit", start_new_session=True)
	killed = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", job_id="k", retry=retry, key="k", n=1)
	first_run_pid(conn, "k")
	os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its work-horse, mid-run
	doomed.wait()
	time.sleep(LEASE * 1.5)  # the killed run's key expires with its lease

	newer = jobkit.enqueue("tests.fixtures.hang_on_first_attempt", job_id="k", retry=retry, key="k", n=2)
	assert not newer.duplicate
	reaped = wait_for(jobkit.reap, "the reaper to take the lost run")
	assert [(r.outcome, r.holder) for r in reaped] == [("superseded", newer.rq_id)]
	assert killed.status == "superseded"
	assert killed.superseded_by == newer.rq_id
	[skipped] = jobkit.skipped_runs().list()
	assert (skipped.reason, skipped.holder, skipped.job["kwargs"]["n"]) == ("superseded", newer.rq_id, 1)
	assert skipped.rq_id == killed.rq_id and skipped.attempt == 2
	assert skipped.error.startswith("WorkerLost: ")
	assert jobkit.dead_letters().count() == 0
	# Nothing is left for a later pass, and the newer copy still holds the key.
	time.sleep(LEASE * 1.5)
	assert jobkit.reap() == []
	assert len(jobkit.skipped_runs().list()) == 1
	assert jobkit.enqueue("tests.fixtures.add", job_id="k", a=1, b=2).rq_id == newer.rq_id
