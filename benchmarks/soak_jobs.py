"""The jobs of the chaos soak (``benchmarks/soak.py``), importable by its worker processes.

Each job writes what the soak checks into Redis under ``soak:``: when it started and ended (with
its worker's process id: the chaos loop kills workers), when it held a lock, that it succeeded.
Records are written through ``_record``, which waits out the soak's Redis restart instead of
losing the record.
"""

import json
import os
import time

import redis

import jobkit

RECORD_PATIENCE_SECONDS = 30


class Flaky(Exception):
	"""The failure a retried job raises on its first attempts."""


def _record(command: str, key: str, *values) -> None:
	connection = jobkit.get_host().connection
	deadline = time.monotonic() + RECORD_PATIENCE_SECONDS
	while True:
		try:
			getattr(connection, command)(key, *values)
			return
		except (redis.ConnectionError, redis.TimeoutError):
			if time.monotonic() > deadline:
				raise
			time.sleep(0.2)


def _run_entry(event: str, **fields) -> str:
	job = jobkit.current_job()
	return json.dumps(
		{
			"event": event,
			"rq_id": job.rq_id,
			"attempt": job.attempt,
			# The worker whose work-horse runs it (RQ puts a work-horse in a process group of its own):
			# the chaos loop kills workers, and a work-horse dies with its jobkit worker.
			"worker": os.getppid(),
			"at": time.time(),
			**fields,
		}
	)


def _started(kind: str, ticket: str, **fields) -> None:
	_record("rpush", "soak:runs", _run_entry("start", kind=kind, ticket=ticket, **fields))


def _succeeded(kind: str, ticket: str, **fields) -> None:
	_record("rpush", "soak:runs", _run_entry("end", kind=kind, ticket=ticket, **fields))
	_record("sadd", "soak:ok", ticket)


def unique_work(ticket: str, key: str, seconds: float) -> None:
	"""A unique job's payload: its run is recorded, to check no two runs of ``key`` overlap. While it
	runs, its worker's process id names the key (``soak:unique-of``), so that the chaos loop knows
	which key a kill leaves to lapse."""
	_started("unique", ticket, key=key)
	_record("hset", "soak:unique-of", str(os.getppid()), key)
	time.sleep(seconds)
	_record("hdel", "soak:unique-of", str(os.getppid()))
	_succeeded("unique", ticket, key=key)


def flaky(ticket: str, failures: int) -> None:
	"""Fails its first ``failures`` attempts (``Flaky``), then succeeds."""
	_started("retry", ticket)
	if jobkit.current_job().attempt <= failures:
		raise Flaky(f"attempt {jobkit.current_job().attempt} of a job that fails {failures} time(s)")
	_succeeded("retry", ticket)


def delayed(ticket: str, due: float) -> None:
	_started("delayed", ticket, late=time.time() - due)
	_succeeded("delayed", ticket)


def locked(ticket: str, name: str, seconds: float) -> None:
	"""Holds ``jobkit.lock(name)`` for ``seconds``; the hold is recorded, to check owners never overlap."""
	_started("lock", ticket)
	with jobkit.lock(name, ttl=5, wait=60, auto_extend=True):
		_record("rpush", "soak:holds", _run_entry("acquired", name=name, ticket=ticket))
		time.sleep(seconds)
		_record("rpush", "soak:holds", _run_entry("releasing", name=name, ticket=ticket))
	_succeeded("lock", ticket)


def reporting(ticket: str, steps: int) -> None:
	"""Reports progress over ``steps`` steps; its final state is checked after the soak."""
	_started("progress", ticket)
	with jobkit.progress(total=steps, title=f"soak {ticket}") as tracker:
		for _ in range(steps):
			time.sleep(0.02)
			tracker.advance()
	_succeeded("progress", ticket)


def batch_item(item: int, batch: str) -> None:
	"""One item of a soak batch: every 50th (from 7) fails; every item's run is counted."""
	time.sleep(0.004)
	_record("hincrby", f"soak:batch-runs:{batch}", str(item), 1)
	if item % 50 == 7:
		raise ValueError(f"item {item} is bad by design")


def batch_completed(summary: dict) -> None:
	_record(
		"rpush",
		"soak:batch-completions",
		json.dumps({key: summary[key] for key in ("batch", "status", "total", "done", "failed")}),
	)


def limited(ticket: str, shop: str, seconds: float) -> None:
	"""Runs under ``jobkit.Limit`` on ``shop``: its run is recorded, to check the limit never held more."""
	_started("limited", ticket, shop=shop)
	time.sleep(seconds)
	_succeeded("limited", ticket, shop=shop)


def rated(ticket: str) -> None:
	"""Runs under ``jobkit.Rate``: its start is recorded, to check no window held more starts."""
	_started("rated", ticket)
	_succeeded("rated", ticket)
