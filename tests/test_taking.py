"""jobkit's workers take a job with a note, so that a worker lost between taking a job and starting
it does not lose it: the reaper gives the job back to its queue, and it runs once."""

import time

from rq import Queue

import jobkit
from jobkit.engine import defaults, keys, reaper
from tests.conftest import read_log
from tests.workers import (
	HOLD_BACK_KEY,
	run_burst_worker,
	start_worker,
	stop_workers,
	wait_for,
	worker_output,
	worker_state,
)

# Past the end of every note written now: what the reaper sees once the notes have ended.
AFTER_THE_NOTES = defaults.TAKEN_SECONDS + 1


def test_a_job_taken_by_a_worker_lost_before_it_started_it_is_given_back_and_runs(host, conn, redis_url):
	# No retry policy: the job runs again because it is given back, not as a retry.
	handle = jobkit.enqueue("tests.fixtures.record", key="taken", value="ran")
	lost = start_worker(redis_url, worker_class="lost after taking")
	assert lost.wait(timeout=30) == 9
	queue = host.rq_queue("default")
	assert handle.rq_id not in queue.job_ids  # off its queue, and RQ has recorded nothing else
	assert handle.status == "queued"

	assert reaper.reap(host) == []  # the note has not ended: its worker may still start it
	given_back = reaper.reap(host, now=time.time() + AFTER_THE_NOTES)
	assert [(reaped.rq_id, reaped.outcome) for reaped in given_back] == [(handle.rq_id, reaper.GIVEN_BACK)]
	assert (
		str(given_back[0]) == f"job {handle.rq_id}, taken by a worker lost before it started it: given back"
	)
	assert queue.job_ids == [handle.rq_id]
	assert reaper.reap(host, now=time.time() + AFTER_THE_NOTES) == []  # given back once

	run_burst_worker(redis_url, worker_class="jobkit")
	assert read_log(conn, "taken") == ["ran"]
	assert handle.status == "finished"
	assert not conn.exists(keys.TAKEN)


def test_a_worker_slower_than_its_note_leaves_the_job_it_took_and_the_job_runs_once(host, conn, redis_url):
	handle = jobkit.enqueue("tests.fixtures.record", key="slow", value="ran")
	conn.set(HOLD_BACK_KEY, 1)
	slow = start_worker(redis_url, worker_class="slow to start")
	try:
		wait_for(lambda: conn.zscore(keys.TAKEN, handle.rq_id) is not None, "the worker to take the job")
		given_back = reaper.reap(host, now=time.time() + AFTER_THE_NOTES)
		assert [reaped.rq_id for reaped in given_back] == [handle.rq_id]
		conn.delete(HOLD_BACK_KEY)  # the worker goes on: it finds the job given back, then takes it again
		wait_for(lambda: handle.status == "finished", "the job to run")
	finally:
		conn.delete(HOLD_BACK_KEY)
		stop_workers(slow)
	assert read_log(conn, "slow") == ["ran"]
	assert "given back to its queue before this worker started it" in worker_output(slow)
	assert not conn.exists(keys.TAKEN)


def test_a_worker_on_several_queues_takes_them_in_order_and_waits_for_new_jobs(host, conn, redis_url):
	# Burst: each queue in the worker's order, then it exits once all are empty.
	jobkit.enqueue("tests.fixtures.record", queue="default", key="order", value="default")
	jobkit.enqueue("tests.fixtures.record", queue="short", key="order", value="short")
	run_burst_worker(redis_url, queues=("short", "default"), worker_class="jobkit")
	assert read_log(conn, "order") == ["short", "default"]

	# Long-running, idle on one queue and on several: a job enqueued later is taken, as is a plain
	# RQ job (not jobkit's), and no note is left behind.
	single = start_worker(redis_url, queues=("long",), worker_class="jobkit")
	several = start_worker(redis_url, queues=("short", "default"), worker_class="jobkit")
	try:
		for worker in (single, several):
			wait_for(lambda worker=worker: worker_state(worker) == "idle", "the worker to wait for jobs")
		jobkit.enqueue("tests.fixtures.record", queue="long", key="later", value="long")
		jobkit.enqueue("tests.fixtures.record", queue="default", key="later", value="default")
		plain = Queue("short", connection=conn).enqueue("tests.fixtures.add", 2, 3)
		wait_for(lambda: len(read_log(conn, "later")) == 2, "the jobkit jobs to run")
		wait_for(lambda: plain.get_status(refresh=True) == "finished", "the plain RQ job to run")
	finally:
		stop_workers(single, several)
	assert sorted(read_log(conn, "later")) == ["default", "long"]
	assert plain.return_value() == 5
	assert not conn.exists(keys.TAKEN)


def test_a_chunk_starts_with_what_the_worker_read_along_with_its_hold_even_on_a_fresh_server(
	host, conn, redis_url
):
	# A server that has not seen jobkit's scripts (new, restarted or flushed) answers NOSCRIPT to
	# the pipelined hold: the worker loads the script and sends the pipeline once more.
	conn.script_flush()
	handle = jobkit.batch("tests.fixtures.process_chunk", items=list(range(50)), chunk_size=10, key="fresh")
	run_burst_worker(redis_url, worker_class="jobkit")
	state = handle.state()
	assert (state["status"], state["done"], state["chunks_done"]) == ("Completed", 50, 5)
	assert int(conn.get("fresh:processed")) == 50
	assert not conn.exists(keys.TAKEN)


def test_a_taken_job_cancelled_before_its_lost_worker_started_it_stays_cancelled(host, conn, redis_url):
	from rq.job import Job

	handle = jobkit.enqueue("tests.fixtures.record", key="cancelled", value="ran")
	lost = start_worker(redis_url, worker_class="lost after taking")
	assert lost.wait(timeout=30) == 9
	Job.fetch(handle.rq_id, connection=conn).cancel()  # someone cancels it meanwhile (RQ's own call)

	assert reaper.reap(host, now=time.time() + AFTER_THE_NOTES) == []  # not given back: it was cancelled
	assert handle.status == "canceled"
	assert not conn.exists(keys.TAKEN)  # its note is gone with it, not left for every later pass
	assert host.rq_queue("default").job_ids == []
	run_burst_worker(redis_url, worker_class="jobkit")
	assert read_log(conn, "cancelled") == []
