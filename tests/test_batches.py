"""Batches with real workers: exact counts, one on_complete, per-item failures, max_parallel, kills,
cancel, checkpoints near the timeout, and query planning whose memory does not grow with rows."""

import json
import os
import random
import signal
import threading
import time
import tracemalloc

import pytest

import jobkit
from jobkit.engine import context
from jobkit.engine.batches import writing as batch_writing
from tests.conftest import NAMESPACE, SHORT_LEASE
from tests.sqlite_query import SQLiteQuery, create_table
from tests.workers import start_promoter, start_worker, stop_workers, wait_for

LEASE = SHORT_LEASE


@pytest.fixture(params=["fork"])
def two_workers(request, redis_url):
	"""Two long-running workers of RQ's forking class (``request.param``: another of tests.workers')."""
	workers = [start_worker(redis_url, worker_class=request.param) for _ in range(2)]
	promoter = start_promoter(redis_url)
	yield workers
	promoter.terminate()
	promoter.communicate(timeout=30)
	stop_workers(*workers)


def completions(conn) -> list[dict]:
	return [json.loads(item) for item in conn.lrange("batch:completed", 0, -1)]


def wait_until_ended(handle, timeout: float = 120) -> dict:
	wait_for(lambda: handle.state()["finished_at"], f"batch {handle.id} to end", timeout)
	return handle.state()


# jobkit's worker starts a chunk with the reads it sends along with its hold; RQ's, in the chunk's job.
@pytest.mark.parametrize("two_workers", ["fork", "jobkit"], indirect=True)
def test_ten_thousand_items_are_each_processed_with_exact_counts_and_one_completion(host, conn, two_workers):
	handle = jobkit.batch(
		"tests.fixtures.process_chunk",
		items=list(range(10_000)),
		chunk_size=100,
		max_parallel=4,
		on_complete="tests.fixtures.batch_completed",
		title="Reindex",
		key="b",
	)
	state = wait_until_ended(handle)
	assert state["status"] == "Completed"
	assert (state["total"], state["done"], state["failed"]) == (10_000, 10_000, 0)
	assert (state["chunks"], state["chunks_done"]) == (100, 100)
	assert conn.scard("b:seen") == 10_000
	assert int(conn.get("b:processed")) == 10_000  # each item once: no chunk ran twice
	assert max(int(n) for n in conn.lrange("b:parallel", 0, -1)) <= 4
	[summary] = completions(conn)
	assert summary["status"] == "Completed"
	assert (summary["total"], summary["done"], summary["failed"]) == (10_000, 10_000, 0)
	assert summary["title"] == "Reindex"
	# Every chunk's job ran as an ordinary job of the batch's queue, as RQ's own views show it.
	from rq.job import Job
	from rq.registry import FinishedJobRegistry

	from jobkit.engine.batches.chunks import segment_job_id

	chunk_jobs = {host.rq_job_id(segment_job_id(handle.id, index, 0)) for index in range(100)}
	registry = FinishedJobRegistry(queue=host.rq_queue("default"))
	# The last chunk finishes the batch inside its job; RQ records the job as finished just after.
	wait_for(lambda: chunk_jobs <= set(registry.get_job_ids()), "RQ to record every chunk's job finished")
	jobs = Job.fetch_many(list(chunk_jobs), connection=conn)
	assert {job.origin for job in jobs} == {"default"}
	assert all(job.enqueued_at and job.ended_at and job.enqueued_at <= job.ended_at for job in jobs)


def test_failing_items_are_recorded_and_retried_alone(host, conn, two_workers):
	bad = [7, 450, 451, 999]
	conn.sadd("p:bad", *bad)
	handle = jobkit.batch(
		"tests.fixtures.process_item",
		items=list(range(1000)),
		chunk_size=50,
		per_item=True,
		on_complete="tests.fixtures.batch_completed",
		key="p",
	)
	state = wait_until_ended(handle)
	assert state["status"] == "Completed with errors"
	assert (state["done"], state["failed"]) == (996, 4)
	failed = handle.failed_items()
	assert sorted(entry["item"] for entry in failed) == bad
	assert {entry["error"] for entry in failed} == {f"ValueError: item {n} is malformed" for n in bad}
	# Each failed item names its chunk (chunks of 50: item n is in chunk n // 50).
	assert sorted((entry["item"], entry["chunk"]) for entry in failed) == [(n, n // 50) for n in bad]
	assert conn.scard("p:seen") == 996  # the rest of each chunk went on
	[summary] = completions(conn)
	assert summary["status"] == "Completed with errors"
	assert sorted(entry["item"] for entry in summary["failed_items"]) == bad

	conn.delete("p:bad")  # the cause is fixed
	again = handle.retry_failed()
	state = wait_until_ended(again)
	assert (state["status"], state["total"], state["done"], state["failed"]) == ("Completed", 4, 4, 0)
	assert conn.scard("p:seen") == 1000
	assert len(completions(conn)) == 2


def test_a_batch_survives_work_horses_killed_mid_chunk(short_lease, conn, two_workers):
	handle = jobkit.batch(
		"tests.fixtures.process_chunk",
		items=list(range(3000)),
		chunk_size=50,
		max_parallel=3,
		on_complete="tests.fixtures.batch_completed",
		key="k",
		seconds=0.3,
	)
	kills = 0
	while kills < 4 and not handle.state()["ended_at"]:
		pids = [int(pid) for pid in conn.smembers("k:pids")]
		if pids:
			try:
				os.kill(random.choice(pids), signal.SIGKILL)
				kills += 1
			except ProcessLookupError:
				pass
		time.sleep(0.7)
	assert kills == 4
	state = wait_until_ended(handle, timeout=240)
	assert state["status"] == "Completed"
	assert (state["total"], state["done"], state["failed"], state["chunks_done"]) == (3000, 3000, 0, 60)
	assert conn.scard("k:seen") == 3000  # every item at least once
	assert len(completions(conn)) == 1


def test_cancel_drops_queued_chunks_and_ends_the_batch_once(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		handle = jobkit.batch(
			"tests.fixtures.process_item",
			items=list(range(400)),
			chunk_size=20,
			max_parallel=2,
			per_item=True,
			on_complete="tests.fixtures.batch_completed",
			key="c",
			seconds=0.05,
		)
		wait_for(lambda: handle.state()["chunks_done"] >= 1, "a first chunk to end")
		assert handle.cancel() is True
		state = wait_until_ended(handle)
	finally:
		stop_workers(worker)
	assert state["status"] == "Cancelled"
	assert state["done"] < 400
	assert state["done"] == int(conn.get("c:processed"))  # counts match what ran
	assert handle.cancel() is False  # already ended
	[summary] = completions(conn)
	assert summary["status"] == "Cancelled"


def test_a_chunk_near_its_timeout_checkpoints_and_the_rest_continues(host, conn, redis_url):
	worker = start_worker(redis_url)
	try:
		handle = jobkit.batch(
			"tests.fixtures.process_item",
			items=list(range(60)),
			chunk_size=30,
			per_item=True,
			timeout=2,
			key="d",
			seconds=0.1,
		)
		state = wait_until_ended(handle)
	finally:
		stop_workers(worker)
	assert (state["status"], state["done"], state["failed"]) == ("Completed", 60, 0)
	assert int(conn.get("d:processed")) == 60  # no item run twice, none lost
	segments = {entry.decode() for entry in conn.lrange("d:segments", 0, -1)}
	assert len(segments) > 2  # each 3 s chunk stopped at 1.6 s and went on as a continuation


def test_planning_a_query_holds_chunk_boundaries_not_rows(host, tmp_path, monkeypatch):
	# Both batches are written in slices of the same size, so that only planning differs.
	monkeypatch.setattr(batch_writing, "WRITE_SLICE", batch_writing.FIRST_SLICE)
	peaks = {}
	for rows in (20_000, 200_000):
		path = str(tmp_path / f"{rows}.sqlite")
		create_table(path, rows)
		tracemalloc.start()
		handle = jobkit.batch(
			"tests.fixtures.process_chunk", query=SQLiteQuery(path), chunk_size=1000, key="q"
		)
		peaks[rows] = tracemalloc.get_traced_memory()[1]
		tracemalloc.stop()
		assert handle.counts["total"] == rows
		assert handle.counts["chunks"] == rows // 1000
	tracemalloc.start()
	all_keys = SQLiteQuery(str(tmp_path / "200000.sqlite")).keys_after(None, 200_000)
	all_rows_peak = tracemalloc.get_traced_memory()[1]
	tracemalloc.stop()
	assert len(all_keys) == 200_000
	assert peaks[200_000] < 2 * peaks[20_000]  # ten times the rows, not ten times the memory
	assert peaks[200_000] < all_rows_peak / 5


def test_an_empty_batch_completes_at_once(host, conn):
	handle = jobkit.batch(
		"tests.fixtures.process_chunk", items=[], on_complete="tests.fixtures.batch_completed", key="e"
	)
	assert handle.status == "Completed"
	assert completions(conn)[0]["total"] == 0


def test_bad_input_is_refused_before_anything_is_written(host, conn):
	bad_calls = {
		"give items= (a list) or query=": lambda: jobkit.batch("tests.fixtures.process_chunk", key="x"),
		"not both": lambda: jobkit.batch(
			"tests.fixtures.process_chunk", items=[1], query=SQLiteQuery("x"), key="x"
		),
		"chunk_size must be a whole number": lambda: jobkit.batch(
			"tests.fixtures.process_chunk", items=[1], chunk_size=0
		),
		"max_parallel must be a whole number": lambda: jobkit.batch(
			"tests.fixtures.process_chunk", items=[1], max_parallel=1.5
		),
		"commit='item' needs per_item=True": lambda: jobkit.batch(
			"tests.fixtures.process_chunk", items=[1], commit="item"
		),
		"commit='weekly'": lambda: jobkit.batch("tests.fixtures.process_chunk", items=[1], commit="weekly"),
		"is not a jobkit query": lambda: jobkit.batch("tests.fixtures.process_chunk", query=[1, 2]),
		"items must be a list": lambda: jobkit.batch("tests.fixtures.process_chunk", items="abc"),
		"cannot be serialised": lambda: jobkit.batch(
			"tests.fixtures.process_chunk", items=[1], lock=threading.Lock()
		),
		"reference_doctype and reference_name together": lambda: jobkit.batch(
			"tests.fixtures.process_chunk", items=[1], reference_doctype="ToDo"
		),
		"cannot be found": lambda: jobkit.batch("tests.fixtures.no_such_function", items=[1]),
	}
	for message, call in bad_calls.items():
		with pytest.raises(jobkit.InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")):
			call()
	assert conn.keys("jobkit:*") == []
	with pytest.raises(jobkit.BatchNotFound, match="no batch 'nope'"):
		jobkit.BatchHandle(host, "nope").state()


def test_chunks_ending_together_each_queue_one_distinct_chunk(host, conn):
	# 10 chunks, max_parallel=2: chunks 0 and 1 are queued, 2 to 9 wait. Chunks 0 to 5 end at the
	# same moment (no worker runs here: their ends are counted directly), then chunk 0's end is
	# counted again, as when its process died after counting and the job ran again.
	from rq.job import Job

	from jobkit.engine import batches, keys
	from jobkit.engine.batches import chunks, running

	handle = jobkit.batch(
		"tests.fixtures.process_chunk", items=list(range(100)), chunk_size=10, max_parallel=2
	)
	queue = host.rq_queue("default")

	def queued_chunks() -> list[int]:
		return [host.envelope_of(job)["kwargs"]["index"] for job in queue.jobs]

	assert queued_chunks() == [0, 1]
	spec = batches.state.load_spec(handle.state())
	together = threading.Barrier(6)

	def end(index: int) -> None:
		together.wait()
		running.end_segment(host, handle.id, spec, index, 0, 10, [], complete=True)

	threads = [threading.Thread(target=end, args=(index,)) for index in range(6)]
	for thread in threads:
		thread.start()
	for thread in threads:
		thread.join()
	assert queued_chunks() == [0, 1, 2, 3, 4, 5, 6, 7]  # six ends, six chunks queued, each once
	assert {job.get_status() for job in queue.jobs} == {"queued"}
	assert all(job.enqueued_at for job in queue.jobs)
	running.end_segment(host, handle.id, spec, 0, 0, 10, [], complete=True)
	assert queued_chunks() == [0, 1, 2, 3, 4, 5, 6, 7]  # counted once, so nothing more queued
	assert (handle.state()["chunks_done"], handle.state()["done"]) == (6, 60)
	assert conn.llen(keys.batch(NAMESPACE, handle.id)["pending"]) == 2

	assert handle.cancel()
	assert conn.llen(keys.batch(NAMESPACE, handle.id)["pending"]) == 0
	waiting = [chunks.segment_job_id(handle.id, index, 0) for index in (8, 9)]
	assert not any(Job.exists(host.rq_job_id(job_id), connection=conn) for job_id in waiting)


def test_a_segment_whose_run_dies_before_its_end_is_counted_leaves_one_continuation(
	short_lease, conn, redis_url
):
	# The first run of the chunk stops after 3 items and dies before its end is counted; its retry
	# stops after 5. Only the counted end's continuation may run: one from 3 as well would run
	# items 3-4 twice and end the chunk twice.
	worker = start_worker(redis_url, worker_class="dies before a checkpoint is counted")
	promoter = start_promoter(redis_url)
	try:
		handle = jobkit.batch(
			"tests.fixtures.checkpoint_by_attempt",
			items=list(range(10)),
			chunk_size=10,
			retry=jobkit.Retry(max_attempts=2, backoff=0.2, jitter=False),
			key="c",
		)
		state = wait_until_ended(handle)
	finally:
		promoter.terminate()
		promoter.communicate(timeout=30)
		stop_workers(worker)
	assert conn.get("tests:died-once")  # the first run did die there
	assert [s.decode() for s in conn.lrange("c:segments", 0, -1)] == ["0:1", "0:2", "5:1"]
	assert (state["status"], state["done"], state["failed"], state["chunks_done"]) == ("Completed", 10, 0, 1)
	items = [int(i) for i in conn.lrange("c:items", 0, -1)]
	assert items == [0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # at least once, in order, nothing twice after
