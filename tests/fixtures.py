"""Job functions the engine tests enqueue; importable by worker processes as ``tests.fixtures``."""

import json
import os

import jobkit


def _log(key: str, value) -> None:
	jobkit.get_host().connection.rpush(key, json.dumps(value))


def record(key: str, value) -> str:
	_log(key, value)
	return "recorded"


def add(a: int, b: int) -> int:
	return a + b


def record_context(key: str) -> None:
	job = jobkit.current_job()
	_log(
		key,
		{
			"id": job.id,
			"rq_id": job.rq_id,
			"method": job.method,
			"queue": job.queue,
			"namespace": job.namespace,
			"attempt": job.attempt,
			"user": job.user,
			"pid": os.getpid(),
		},
	)


def fail(message: str) -> None:
	raise ValueError(message)


def enqueue_child(key: str) -> None:
	"""Enqueue more work from inside a job, with no configure() call in the worker."""
	jobkit.enqueue("tests.fixtures.record", key=key, value="child")


def wait_for_key(key: str, record_to: str) -> None:
	"""Block until ``key`` exists (set by the test), so the test controls when the job ends."""
	connection = jobkit.get_host().connection
	_log(record_to, "started")
	connection.blpop([key], timeout=60)
	_log(record_to, "finished")


def on_success(job, connection, result) -> None:
	connection.rpush("callbacks", json.dumps({"event": "success", "result": result, "rq_id": job and job.id}))


def on_failure(job, connection, exc_type, exc, traceback) -> None:
	connection.rpush(
		"callbacks",
		json.dumps({"event": "failure", "error": f"{exc_type.__name__}: {exc}", "rq_id": job and job.id}),
	)


def on_failure_broken(job, connection, exc_type, exc, traceback) -> None:
	raise RuntimeError("the callback itself is broken")


NOT_CALLABLE = 42


class Tasks:
	@staticmethod
	def static_add(a: int, b: int) -> int:
		return a + b

	def bound(self) -> None:
		pass


def tracked_run(nonce: str, seconds: float = 0.05) -> None:
	"""Record each execution and any overlap with another run of the same logical job."""
	connection = jobkit.get_host().connection
	if connection.incr("running") > 1:
		connection.rpush("overlaps", nonce)
	connection.rpush("executions", nonce)
	import time

	time.sleep(seconds)
	connection.decr("running")


def record_pid_and_wait(key: str, record_to: str) -> None:
	"""Like wait_for_key, recording the job's process id first (for kill tests)."""
	_log(record_to, os.getpid())
	jobkit.get_host().connection.blpop([key], timeout=600)


def hang_on_first_attempt(key: str, seconds: float = 600, **settings) -> str:
	"""Record the run (attempt, process id); the first attempt then sleeps ``seconds`` (to be killed)."""
	job = jobkit.current_job()
	_log(f"{key}:runs", {"attempt": job.attempt, "pid": os.getpid(), "rq_id": job.rq_id})
	if job.attempt == 1:
		import time

		time.sleep(seconds)
	return f"finished on attempt {job.attempt}"


def record_threads_after(key: str, seconds: float) -> None:
	"""Run ``seconds`` (longer than the lease), then record how many threads this process has."""
	import time

	time.sleep(seconds)
	_log(key, {"pid": os.getpid(), "threads": len(os.listdir("/proc/self/task"))})


def record_kwargs(**kwargs) -> None:
	_log("kwargs", kwargs)


def flaky(key: str, failures: int, error: str = "connection") -> str:
	"""Fail the first ``failures`` runs (counted in Redis under ``key``), then succeed."""
	connection = jobkit.get_host().connection
	job = jobkit.current_job()
	run = connection.incr(key)
	_log(f"{key}:runs", {"attempt": job.attempt, "rq_id": job.rq_id})
	if run <= failures:
		if error == "connection":
			raise ConnectionError(f"database gone (run {run})")
		if error == "retry_later":
			raise jobkit.RetryLater(f"not yet (run {run})", delay=0.3)
		raise ValueError(f"bad data (run {run})")
	return f"succeeded on run {run}"


def fail_until_fixed(key: str, **settings) -> str:
	"""Fail while ``{key}:fixed`` is unset (a fix not yet deployed); record each run and its kwargs."""
	connection = jobkit.get_host().connection
	job = jobkit.current_job()
	_log(f"{key}:runs", {"attempt": job.attempt, "id": job.id, "rq_id": job.rq_id, "settings": settings})
	if not connection.exists(f"{key}:fixed"):
		raise ConnectionError(f"upstream refused {key}")
	return "fixed"


@jobkit.job(queue="long", timeout=900, retry=2)
def nightly_sync(region: str = "eu") -> dict:
	"""A job with declared defaults: it reports where and how it ran."""
	from rq import get_current_job

	job = jobkit.current_job()
	return {
		"region": region,
		"queue": job.queue,
		"timeout": get_current_job().timeout,
		"attempt": job.attempt,
	}


@jobkit.job(queue="long", job_id="sync::{customer}")
def sync_customer(customer: str) -> str:
	return f"{customer} synced"


@jobkit.job(lock="report::{day}")
def locked_report(day: str, hold_key: str = "") -> str:
	"""Runs under a lock named after its day; holds it until ``hold_key`` is pushed, if given."""
	if hold_key:
		connection = jobkit.get_host().connection
		_log(f"{hold_key}:log", "holding")
		connection.blpop([hold_key], timeout=60)
	return f"report for {day}"


@jobkit.job(queue="long", timeout=600)
def scheduled_cleanup() -> None:
	"""A scheduler target: each run records itself and lasts until the test pushes ``cleanup:go``."""
	connection = jobkit.get_host().connection
	job = jobkit.current_job()  # None when called directly
	_log("cleanup:runs", {"queue": job and job.queue, "id": job and job.id})
	connection.blpop(["cleanup:go"], timeout=60)


# Batches ------------------------------------------------------------------------------------


def process_chunk(items: list, key: str, seconds: float = 0) -> None:
	"""Record each item, the process, and how many chunks were running at once (max_parallel)."""
	import time

	connection = jobkit.get_host().connection
	running = connection.incr(f"{key}:running")
	connection.rpush(f"{key}:parallel", running)
	connection.sadd(f"{key}:pids", os.getpid())
	try:
		time.sleep(seconds)
		pipe = connection.pipeline()
		pipe.sadd(f"{key}:seen", *items)
		pipe.incrby(f"{key}:processed", len(items))
		pipe.execute()
	finally:
		connection.srem(f"{key}:pids", os.getpid())
		connection.decr(f"{key}:running")


def process_item(item: int, key: str, seconds: float = 0) -> None:
	"""Per item: fail for items in the set ``{key}:bad`` (until the test empties it)."""
	import time

	connection = jobkit.get_host().connection
	time.sleep(seconds)
	if connection.sismember(f"{key}:bad", item):
		raise ValueError(f"item {item} is malformed")
	connection.sadd(f"{key}:seen", item)
	connection.incr(f"{key}:processed")
	connection.rpush(f"{key}:segments", f"{jobkit.current_chunk().index}:{jobkit.current_chunk().start}")


def batch_completed(summary: dict) -> None:
	jobkit.get_host().connection.rpush("batch:completed", json.dumps(summary))


def count_with_progress(items: int, key: str, **options) -> None:
	"""Advance a tracker once per item; record how long that took and what the tracker sent."""
	import time

	start = time.monotonic()
	with jobkit.progress(total=items, title="Count", **options) as progress:
		for _ in range(items):
			progress.advance()
	_log(key, {"seconds": time.monotonic() - start, "published": progress.published})


def run_until_cancelled(key: str) -> None:
	"""Report progress until someone cancels the job (or 60 s pass)."""
	import time

	with jobkit.progress(title="Until cancelled") as progress:
		deadline = time.monotonic() + 60
		while not progress.cancelled and time.monotonic() < deadline:
			progress.advance()
			time.sleep(0.005)
	_log(key, {"cancelled": progress.cancelled, "status": progress.status})


def fail_with_progress(key: str) -> None:
	with jobkit.progress(total=10, title="Doomed") as progress:
		progress.set(3, stage="loading")
		raise ValueError("the file is empty")


def count_about_a_record(items: int, key: str, doctype: str, name: str, **options) -> None:
	"""count_with_progress, run as a record's runner runs a job: inside ``progress.about``."""
	from jobkit.engine import progress

	with progress.about(doctype, name):
		count_with_progress(items, key, **options)


def progress_left_open(items: int) -> None:
	"""Report progress without a `with` block: the runner sends the final state."""
	tracker = jobkit.progress(total=items)
	tracker.advance(items)


def report_then_hang(key: str) -> None:
	"""Report progress, publish the process id, then run until killed."""
	import time

	tracker = jobkit.progress(total=10, title="Hanging", rate=100)
	time.sleep(0.05)  # past the throttle: the next state goes out
	tracker.set(4, stage="loading")
	jobkit.get_host().connection.set(key, os.getpid())
	time.sleep(600)


class Unprintable(Exception):
	"""An error that cannot be shown: the record of the failed attempt cannot be written."""

	def __str__(self) -> str:
		raise RuntimeError("this error cannot be shown")


def fails_unprintably_once(key: str) -> None:
	connection = jobkit.get_host().connection
	if connection.incr(f"{key}:attempts") == 1:
		raise Unprintable()
	connection.set(f"{key}:done", 1)


def checkpoint_by_attempt(items: list, key: str) -> None:
	"""A chunk's first segment checkpoints after 3 items on its first attempt and after 5 on the next
	(a chunk run again need not stop where its first run did); every segment records its items."""
	chunk, job = jobkit.current_chunk(), jobkit.current_job()
	stop = (3 if job.attempt == 1 else 5) if chunk.start == 0 else len(items)
	connection = jobkit.get_host().connection
	connection.rpush(f"{key}:items", *items[:stop])
	connection.rpush(f"{key}:segments", f"{chunk.start}:{job.attempt}")
	if stop < len(items):
		chunk.checkpoint(stop)


def fail_when_told(key: str, n: int = 0) -> str:
	"""Record the run, then wait for the test: "fail" raises a transient error, anything else returns."""
	job = jobkit.current_job()
	connection = jobkit.get_host().connection
	_log(f"{key}:runs", {"attempt": job.attempt, "rq_id": job.rq_id, "n": n})
	_, told = connection.blpop([f"{key}:{job.rq_id}"], timeout=60)
	if told == b"fail":
		raise ConnectionError(f"upstream gone ({key}, call {n})")
	return f"call {n} done"


def gated(call: int, lock: str) -> str:
	"""A run the outcome state machine drives (``tests/test_outcomes.py``): it records its start, waits
	for the test's word at its gate ("ok", or "fail": a transient error), and records its end.

	A run whose lock type lets no other run of its key go on at once notes any overlap it sees.
	Once the test drains (``sm:drain``), runs that start end at once.
	"""
	job = jobkit.current_job()
	connection = jobkit.get_host().connection
	running = f"sm:running:{lock}"
	connection.sadd(running, job.rq_id)
	if lock in ("until_executed", "while_executing") and connection.scard(running) > 1:
		connection.rpush(
			"sm:overlaps", json.dumps([job.rq_id, sorted(map(bytes.decode, connection.smembers(running)))])
		)
	begun = {"rq_id": job.rq_id, "pid": os.getpid(), "worker": os.getppid(), "call": call, "lock": lock}
	connection.rpush("sm:begun", json.dumps(begun))
	try:
		word = b"ok"
		if not connection.exists("sm:drain"):
			reply = connection.blpop([f"sm:gate:{job.rq_id}"], timeout=300)
			word = reply[1] if reply else b"ok"
		if word == b"fail":
			raise ConnectionError(f"call {call} was told to fail")
		connection.rpush("sm:done", call)
		return f"call {call} done"
	finally:
		connection.srem(running, job.rq_id)


def limited_run(shop: str, call: int, seconds: float = 0.05, record_to: str = "limited") -> None:
	"""A job under a limit on ``shop``: at its start it counts the runs of its shop alive now (itself
	included; a killed run's process is gone, so it counts no more), then works ``seconds``."""
	import time

	connection = jobkit.get_host().connection
	started = time.time()
	running = f"{record_to}:running:{shop}"
	connection.sadd(running, os.getpid())
	alive = sum(_alive(int(pid)) for pid in connection.smembers(running))
	_log(f"{record_to}:seen:{shop}", alive)
	time.sleep(seconds)
	connection.srem(running, os.getpid())
	rq_id = jobkit.current_job().rq_id
	_log(f"{record_to}:done", {"shop": shop, "call": call, "started": started, "rq_id": rq_id})


def _alive(pid: int) -> bool:
	"""Whether process ``pid`` runs (a killed one may linger as a zombie until it is waited for)."""
	try:
		with open(f"/proc/{pid}/stat") as stat:
			return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
	except (FileNotFoundError, ProcessLookupError, IndexError):
		return False


def rated_run(call: int, record_to: str = "rated") -> None:
	"""A job under a rate: records when its first line ran."""
	import time

	_log(record_to, {"call": call, "started": time.time()})


@jobkit.job(concurrency=jobkit.Limit("decorated::{shop}", 1))
def one_sync_per_shop(shop: str) -> str:
	return f"synced {shop}"
