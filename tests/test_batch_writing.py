"""A batch's first chunks run while the rest are written: max_parallel holds meanwhile, a cancel
drops what is written after it, and a writer that fails or dies leaves the batch cancelled with
exact counts, never waiting forever."""

import json
import signal
import subprocess
import sys
import time

import pytest
from rq import Queue
from rq.job import Job

import jobkit
from jobkit.engine import batches, keys, reaper
from jobkit.engine.batches import writing as batch_writing
from tests.conftest import NAMESPACE
from tests.workers import REPO, start_worker, stop_workers, wait_for, worker_env

CHUNKS = 10


@pytest.fixture
def small_slices(monkeypatch):
	"""Slices of 2 chunks first, then 3: a 10-chunk batch is written in four steps."""
	monkeypatch.setattr(batch_writing, "FIRST_SLICE", 2)
	monkeypatch.setattr(batch_writing, "WRITE_SLICE", 3)


def state_field(conn, batch_id: str, field: str) -> int:
	return int(conn.hget(keys.batch(NAMESPACE, batch_id)["state"], field) or 0)


def pause_writing_until(monkeypatch, condition, also=None) -> None:
	"""Hold the writing of the chunks after the first slice until ``condition(batch_id)``, then run
	``also(batch_id)`` once."""
	write_slice = batch_writing._write_slice
	seen = []

	def paused(host, batch_id, *args):
		if not seen:
			seen.append(batch_id)
			wait_for(lambda: condition(batch_id), "the first chunks to end while the rest wait")
			if also:
				also(batch_id)
		return write_slice(host, batch_id, *args)

	monkeypatch.setattr(batch_writing, "_write_slice", paused)


def completions(conn) -> list[dict]:
	return [json.loads(item) for item in conn.lrange("batch:completed", 0, -1)]


def start_batch(key: str, **options):
	return jobkit.batch(
		"tests.fixtures.process_chunk",
		items=list(range(CHUNKS * 10)),
		chunk_size=10,
		max_parallel=2,
		on_complete="tests.fixtures.batch_completed",
		key=key,
		**options,
	)


def test_first_chunks_run_while_the_rest_are_written_and_max_parallel_holds(
	host, conn, redis_url, small_slices, monkeypatch
):
	# Both chunks of the first slice end before any other is written: their places are owed, and
	# the next slice written pays them.
	pause_writing_until(monkeypatch, lambda batch_id: state_field(conn, batch_id, "chunks_done") >= 2)
	workers = [start_worker(redis_url) for _ in range(2)]
	try:
		handle = start_batch("w")
		wait_for(lambda: handle.state()["finished_at"], "the batch to end")
	finally:
		stop_workers(*workers)
	state = handle.state()
	assert (state["status"], state["done"], state["failed"], state["chunks_done"]) == (
		"Completed",
		100,
		0,
		10,
	)
	assert (state["written"], state["owed"], state["writing"]) == (CHUNKS, 0, None)
	assert conn.scard("w:seen") == 100 and int(conn.get("w:processed")) == 100  # each item once
	assert max(int(n) for n in conn.lrange("w:parallel", 0, -1)) <= 2
	assert len(completions(conn)) == 1
	assert conn.zcard(keys.batches_writing(NAMESPACE)) == 0


def test_a_cancel_while_chunks_are_written_drops_the_rest(host, conn, redis_url, small_slices, monkeypatch):
	pause_writing_until(
		monkeypatch,
		lambda batch_id: state_field(conn, batch_id, "chunks_done") >= 2,
		also=lambda batch_id: batches.BatchHandle(host, batch_id).cancel(),
	)
	worker = start_worker(redis_url)
	try:
		handle = start_batch("c")
		state = handle.state()
	finally:
		stop_workers(worker)
	# The writer dropped every slice written after the cancel, and the last drop ended the batch.
	assert state["status"] == "Cancelled"
	assert (state["done"], state["chunks_done"], state["chunks_dropped"]) == (20, 2, 8)
	assert int(conn.get("c:processed")) == 20
	ids = [host.rq_job_id(f"batch::{handle.id}::{index}::0") for index in range(2, CHUNKS)]
	assert conn.exists(*(Job.key_for(rq_id) for rq_id in ids)) == 0
	assert Queue("default", connection=conn).count == 0
	[summary] = completions(conn)
	assert summary["status"] == "Cancelled"


def test_a_writer_that_fails_cancels_its_batch_and_raises(host, conn, redis_url, small_slices, monkeypatch):
	write_slice = batch_writing._write_slice
	calls = []

	def fails_second(*args):
		calls.append(args)
		if len(calls) == 2:
			raise ConnectionError("Redis went away")
		return write_slice(*args)

	monkeypatch.setattr(batch_writing, "_write_slice", fails_second)
	worker = start_worker(redis_url)
	try:
		with pytest.raises(ConnectionError, match="Redis went away"):
			start_batch("f")
		[batch_id] = [raw.decode() for raw in conn.zrange(keys.batches(NAMESPACE), 0, -1)]
		handle = batches.BatchHandle(host, batch_id)
		wait_for(lambda: handle.state()["finished_at"], "the batch to end")
	finally:
		stop_workers(worker)
	state = handle.state()
	# 5 chunks were written (first slice and one more): those already running ended; the rest of
	# them and the 5 never written were dropped.
	assert state["status"] == "Cancelled"
	assert state["written"] == 5
	assert state["chunks_done"] + state["chunks_dropped"] == CHUNKS
	assert state["done"] == int(conn.get("f:processed") or 0)
	assert len(completions(conn)) == 1
	assert conn.zcard(keys.batches_writing(NAMESPACE)) == 0


WRITER_THAT_DIES = """
import sys, time
import jobkit
from jobkit.engine.batches import writing as batch_writing

jobkit.configure(redis_url=sys.argv[1], namespace=sys.argv[2])
batch_writing.FIRST_SLICE = 2


def stall(host, batch_id, *args):
	print(batch_id, flush=True)
	time.sleep(3600)


batch_writing._write_slice = stall
jobkit.batch(
	"tests.fixtures.process_chunk", items=list(range(100)), chunk_size=10, max_parallel=2,
	on_complete="tests.fixtures.batch_completed", key="d",
)
"""


def test_the_reaper_cancels_a_batch_whose_writer_died(host, conn, redis_url):
	writer = subprocess.Popen(
		[sys.executable, "-c", WRITER_THAT_DIES, redis_url, NAMESPACE],
		cwd=REPO,
		env=worker_env(),
		stdout=subprocess.PIPE,
		text=True,
	)
	batch_id = writer.stdout.readline().strip()
	writer.send_signal(signal.SIGKILL)
	writer.wait(timeout=30)
	handle = batches.BatchHandle(host, batch_id)
	worker = start_worker(redis_url)
	try:
		wait_for(lambda: handle.state()["chunks_done"] == 2, "the written chunks to run")
		assert reaper.reap(host) == []  # the writer is not overdue yet
		assert handle.state()["ended_at"] is None
		overdue = time.time() + batch_writing.WRITING_SECONDS + 1
		[given_up] = [r for r in reaper.reap(host, now=overdue) if r.outcome == reaper.BATCH_GIVEN_UP]
	finally:
		stop_workers(worker)
	assert str(given_up) == f"batch {batch_id}, whose creator stopped while writing its chunks: cancelled"
	state = handle.state()
	assert (state["status"], state["written"]) == ("Cancelled", 2)
	assert (state["done"], state["chunks_done"], state["chunks_dropped"]) == (20, 2, 8)
	[summary] = completions(conn)
	assert (summary["status"], summary["done"]) == ("Cancelled", 20)
	assert reaper.reap(host, now=overdue) == []  # given up once
