"""The reaper: what becomes of a run whose process died.

A run's process can die without reporting an outcome: SIGKILL, the kernel's OOM killer, a lost
machine, a deploy that kills workers hard. RQ marks the job failed when a work-horse dies under a
live worker, and only minutes later (or never, on rq 1.x) when the whole worker is gone; in both
cases jobkit's runner never sees it. Its in-flight entry (``inflight``) stops being renewed, and
once its lease has run out the reaper treats the run as failed with ``WorkerLost``:

- under a retry policy with attempts left, the next attempt is scheduled with the policy's
  backoff; a unique key held ``until_executed`` passes to it, as for any retry. The key may have
  run out with the lost run's lease and been taken by a newer copy of the job: the attempt is
  then superseded by that copy (``skipped``): not written, and recorded with its arguments;
- otherwise the failure is final: a dead letter (a "Jobkit Failed Job" on a site) is written, the
  job's unique key is released and its ``on_failure`` callback runs (in the reaper's process,
  with ``jobkit.current_job()`` describing the lost run).

A job RQ started whose runner never did (its worker died in between) is found in RQ's started
registry once RQ counts it abandoned, and handled the same way (``adopt_abandoned``).

A job a jobkit worker took off its queue and never started (the worker died in between) is given
back to its queue once the worker's note ends (``taking``), whoever's job it is.

A run RQ itself reports stopped (``send_stop_job_command``) is not retried. A run whose worker
still heartbeats with it as its current job is alive (its renewals were late, e.g. a blocking
C call holding the GIL) and is given another lease. Any number of reapers may run at once: each
entry is taken by one of them, and one that dies part-way leaves it to be taken again.
"""

import logging
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone

from jobkit.engine import context, keys, progress, retries, taking, unique
from jobkit.engine.batches import writing as batch_writing
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import WorkerLost
from jobkit.engine.handle import DEAD_LETTERED, RETRIED_AS, SUPERSEDED_META
from jobkit.engine.host import Host
from jobkit.engine.limits import gates
from jobkit.engine.rqcompat import started_registry_job_id, text
from jobkit.engine.runner import job_context, run_failure_callback, write_dead_letter
from jobkit.engine.scripts import REAP_CLAIM, RELEASE

logger = logging.getLogger("jobkit")

# Entries taken per call; the rest wait for the next call (a minute under Frappe's scheduler).
REAP_LIMIT = 100
# How long an entry stays with the reaper that took it before another reaper may take it again.
REAPER_LEASE_SECONDS = 300

RETRIED = "retried"
SUPERSEDED = "superseded"  # its next attempt was not written: a newer copy holds the unique key
FAILED = "failed"  # final: dead letter written
STOPPED = "stopped"  # stopped or canceled through RQ: not retried
ALIVE = "alive"  # its worker still runs it
ENDED = "ended"  # its outcome was written after all
GONE = "gone"  # RQ no longer holds the job
GIVEN_BACK = "given back"  # taken by a worker lost before it started the job: back on its queue
BATCH_GIVEN_UP = "cancelled"  # a batch whose creator stopped while writing its chunks

# The outcomes that end a lost run, with what its progress is told.
LOST_RUN_ENDS = {
	RETRIED: "its next attempt is scheduled",
	FAILED: "recorded as failed",
	SUPERSEDED: "its next attempt was superseded by {holder}, a newer copy of the job",
}


@dataclass(frozen=True)
class Reaped:
	"""What the reaper did with one run whose lease had run out."""

	rq_id: str
	outcome: str
	method: str | None = None
	job_id: str | None = None
	attempt: int | None = None
	lease: float | None = None  # of a run found alive: its next lease
	holder: str | None = None  # of a run superseded: the RQ id of the newer copy that holds its key

	def __str__(self) -> str:
		if self.outcome == GIVEN_BACK:
			return f"job {self.rq_id}, taken by a worker lost before it started it: {self.outcome}"
		if self.outcome == BATCH_GIVEN_UP:
			return f"batch {self.rq_id}, whose creator stopped while writing its chunks: {self.outcome}"
		if self.outcome == SUPERSEDED:
			return (
				f"lost run {self.rq_id} of {self.method} (attempt {self.attempt}): {self.outcome} by "
				f"{self.holder}, a newer copy holding its unique key"
			)
		return f"lost run {self.rq_id} of {self.method} (attempt {self.attempt}): {self.outcome}"


def reap(host: Host, *, now: float | None = None, limit: int = REAP_LIMIT) -> list[Reaped]:
	"""Handle the runs of ``host``'s namespace whose lease ran out before ``now``, give back the
	jobs taken by workers lost before they started them, and cancel the batches whose creator
	stopped while writing their chunks."""
	connection = host.connection
	key = keys.in_flight(host.namespace)
	now = time.time() if now is None else now
	taken = REAP_CLAIM(connection, [key], [repr(now), repr(now + REAPER_LEASE_SECONDS), limit])
	done = []
	for raw in taken:
		rq_id = text(raw)
		try:
			reaped = _reap_one(host, rq_id)
		except Exception:
			# Left in the registry under this reaper's lease: the next reaper after it tries again.
			host.rollback()
			host.log_error(f"jobkit: could not reap the lost run {rq_id}", traceback.format_exc())
			continue
		if reaped.outcome == ALIVE:
			connection.zadd(key, {rq_id: time.time() + reaped.lease})
		else:
			connection.zrem(key, rq_id)
		if reaped.outcome in LOST_RUN_ENDS:
			# Its progress said "running" when the process died: say how it ended instead.
			then = LOST_RUN_ENDS[reaped.outcome].format(holder=reaped.holder)
			progress.end_lost_run(host, rq_id, f"WorkerLost: the process running it died; {then}")
		done.append(reaped)
	done.extend(adopt_abandoned(host, now, limit))
	done.extend(Reaped(rq_id, GIVEN_BACK) for rq_id in taking.give_back(connection, now=now, limit=limit))
	given_up = batch_writing.give_up_stopped_writers(host, now, limit)
	done.extend(Reaped(batch_id, BATCH_GIVEN_UP) for batch_id in given_up)
	return done


def adopt_abandoned(host: Host, now: float, limit: int = REAP_LIMIT) -> list[Reaped]:
	"""Handle the jobs RQ started whose runner never did: their worker died in between.

	A worker registers a job it dequeued in RQ's started registry, then forks and unpickles it
	before jobkit's runner writes the in-flight entry; a worker lost in that window leaves the
	job there with nothing renewing it. RQ counts an entry whose heartbeat expired (about 90 s
	after the worker's last) as abandoned; this takes such entries of the host's jobkit jobs, one
	reaper each, and retries or records them like any lost run, leaving the job failed in RQ's
	failed registry as RQ's own clean-up would.
	"""
	from rq.job import Job
	from rq.registry import FailedJobRegistry, StartedJobRegistry

	connection = host.connection
	in_flight = keys.in_flight(host.namespace)
	adopted: list[Reaped] = []
	for name in host.queue_timeouts():
		rq_queue = host.rq_queue(name)
		registry = StartedJobRegistry(queue=rq_queue)
		for raw in connection.zrangebyscore(registry.key, 0, now, start=0, num=limit - len(adopted)):
			entry = text(raw)
			rq_id = started_registry_job_id(entry)
			if connection.zscore(in_flight, rq_id) is not None:
				continue  # its runner started: the in-flight registry says what became of it
			try:
				rq_job = Job.fetch(rq_id, connection=connection)
				envelope = Envelope.read(host.envelope_of(rq_job))
			except Exception:  # gone, or another app's job this process cannot unpickle
				continue
			if envelope is None or envelope.namespace != host.namespace:
				continue  # not a jobkit job of this host: RQ's clean-up handles it
			if not connection.zrem(registry.key, entry):
				continue  # another reaper took it
			try:
				reaped = _reap_one(host, rq_id)
			except Exception:
				connection.zadd(registry.key, {entry: now})  # for the next reaper
				host.rollback()
				host.log_error(f"jobkit: could not reap the abandoned job {rq_id}", traceback.format_exc())
				continue
			if reaped.outcome == ALIVE:
				connection.zadd(registry.key, {entry: time.time() + reaped.lease})
			elif reaped.outcome in LOST_RUN_ENDS:
				rq_job.set_status("failed")
				FailedJobRegistry(queue=rq_queue).add(
					rq_job,
					ttl=rq_job.failure_ttl,
					exc_string="jobkit: abandoned in RQ's started registry (its worker died before the job ran)",
				)
			adopted.append(reaped)
		if len(adopted) >= limit:
			break
	return adopted


def _reap_one(host: Host, rq_id: str) -> Reaped:
	from rq.exceptions import NoSuchJobError
	from rq.job import Job

	connection = host.connection
	try:
		rq_job = Job.fetch(rq_id, connection=connection)
	except NoSuchJobError:
		logger.warning("jobkit: the lost run %s can not be retried: RQ no longer holds the job", rq_id)
		return Reaped(rq_id, GONE)
	envelope = Envelope.read(host.envelope_of(rq_job))
	if envelope is None:
		return Reaped(rq_id, GONE)
	found = {"method": envelope.method, "job_id": envelope.id, "attempt": envelope.attempt}
	alive = _alive(connection, rq_job, envelope, host)
	if envelope.get("gates") and not alive:
		# The run is over, however it ended: its places on its gates go (a retry passes them again).
		gates.release(connection, envelope, rq_id)
	superseded = rq_job.meta.get(SUPERSEDED_META)
	if superseded:
		# Its record may not have been written (the process superseding it died): the same record.
		retries.record_superseded(host, envelope, rq_job)
		return Reaped(rq_id, ENDED, **found, holder=superseded["holder"])
	status = _status(rq_job)
	if status == "finished" or rq_job.meta.get(DEAD_LETTERED) or _was_retried(connection, rq_job):
		return Reaped(rq_id, ENDED, **found)
	if status in ("stopped", "canceled"):
		_release_keys(connection, envelope, rq_id)
		return Reaped(rq_id, STOPPED, **found)
	lease = envelope.lease(host.lease_seconds)
	if alive:
		return Reaped(rq_id, ALIVE, **found, lease=lease)

	exc = WorkerLost(
		f"the process running attempt {envelope.attempt} of {envelope.method} stopped without "
		f"reporting an outcome (killed, out of memory, or its machine lost); RQ says: {_rq_says(rq_job)}"
	)
	delay = retries.next_delay(host, envelope, exc)
	if delay is not None:
		holder = retries.schedule_next_attempt(host, envelope, rq_job, delay, exc)
		if holder is not None:
			return Reaped(rq_id, SUPERSEDED, **found, holder=holder)
		return Reaped(rq_id, RETRIED, **found)
	tokens = context.enter_job(host, job_context(envelope, rq_id))
	try:
		write_dead_letter(host, envelope, rq_job, exc, f"jobkit.WorkerLost: {exc}\n")
		_release_keys(connection, envelope, rq_id)
		run_failure_callback(host, envelope, rq_job, WorkerLost, exc, None)
	finally:
		context.exit_job(tokens)
	logger.warning("jobkit: %s", exc)
	return Reaped(rq_id, FAILED, **found)


def _alive(connection, rq_job, envelope: Envelope, host: Host) -> bool:
	"""Whether the run goes on: started, and its worker heard of within its lease."""
	return _status(rq_job) == "started" and _worker_still_runs(
		connection, rq_job, envelope.lease(host.lease_seconds)
	)


def _status(rq_job) -> str | None:
	status = rq_job.get_status(refresh=False)
	return getattr(status, "value", status)


def _was_retried(connection, rq_job) -> bool:
	"""Whether the run wrote its next attempt before it died (the attempt exists in Redis)."""
	from rq.job import Job

	following = rq_job.meta.get(RETRIED_AS)
	return bool(following) and bool(connection.exists(Job.key_for(following)))


def _worker_still_runs(connection, rq_job, within_seconds: float) -> bool:
	"""Whether the job's worker heartbeat within the last lease with this job as its current one."""
	from rq.worker import Worker

	name = getattr(rq_job, "worker_name", None)
	if not name:
		return False
	worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=connection)
	if worker is None or worker.get_current_job_id() != rq_job.id or worker.last_heartbeat is None:
		return False
	beat = worker.last_heartbeat
	if beat.tzinfo is None:  # rq 1.x keeps naive UTC times
		beat = beat.replace(tzinfo=timezone.utc)
	return (datetime.now(timezone.utc) - beat).total_seconds() < within_seconds


def _release_keys(connection, envelope: Envelope, rq_id: str) -> None:
	held = envelope.unique
	if held and held["lock"] in (unique.UNTIL_EXECUTED, unique.WHILE_EXECUTING):
		RELEASE(connection, [held["key"]], [rq_id])


def _rq_says(rq_job) -> str:
	"""The last line of the error RQ recorded for the run (e.g. its work-horse's exit status)."""
	result = rq_job.latest_result()
	error = (getattr(result, "exc_string", None) or "").strip()
	last_line = error.splitlines()[-1] if error else ""
	return last_line[:300] or f"the job is still marked {_status(rq_job)!r}"
