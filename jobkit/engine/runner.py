"""The wrapper every jobkit job runs inside.

RQ calls ``run`` (directly with the plain-RQ host, through Frappe's ``execute_job`` on a bench).
It resolves the job's method, exposes ``jobkit.current_job()``, commits or rolls back through the
host, and runs the job's ``on_success``/``on_failure`` callbacks inside the job's own context (on
a bench: with the site connected and the job's user set, which RQ's own callbacks lack). A failed
attempt is retried when the job's policy says so; a final failure leaves a dead letter. A run in
a worker stays in the in-flight registry until its outcome is written (see ``reaper``).
"""

import logging
import sys
import traceback
from contextlib import nullcontext
from typing import Any

from jobkit.engine import (
	context,
	dead_letter,
	defaults,
	inflight,
	methods,
	progress,
	retries,
	scripts,
	stats,
	unique,
)
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import FinalFailure, JobkitError
from jobkit.engine.handle import DEAD_LETTERED, JobHandle
from jobkit.engine.host import Host
from jobkit.engine.inflight import InFlight
from jobkit.engine.limits import gates
from jobkit.engine.rq_host import RQHost

logger = logging.getLogger("jobkit")


def run(job: dict) -> Any:
	"""RQ's entry point for a jobkit job (its ``func``); ``job`` is the envelope."""
	from rq import get_current_job

	envelope = _checked(job)
	rq_job = get_current_job()
	return execute(host_for_job(envelope, rq_job), envelope, rq_job=rq_job)


class NamedRunner:
	"""``run``, as a picklable callable that bears the job method's name.

	A host whose job wrapper names jobs after the callable it is given (Frappe's ``execute_job``:
	Error Log titles, ``before_job`` hooks, ``frappe.local.job.method``, the process title) then
	reports the user's method instead of jobkit's runner.
	"""

	def __init__(self, method: str):
		self.__module__, _, self.__qualname__ = method.rpartition(".")

	def __call__(self, **kwargs) -> Any:
		return run(**kwargs)

	def __repr__(self) -> str:
		return f"<jobkit job {self.__module__}.{self.__qualname__}>"


def host_for_job(envelope: Envelope, rq_job) -> Host:
	"""The active host; in a bare ``rq worker`` (no configuration), one built from the job itself."""
	host = context.find_host()
	if host is not None:
		return host
	if rq_job is None:
		return context.get_host()  # NotConfigured, with what to do
	# The enqueuing side's lease, so that work this job enqueues (retries, batch chunks) keeps it.
	lease = envelope.lease()
	host = _job_hosts.get((envelope.namespace, lease))
	if host is None or host.connection is not rq_job.connection:
		host = _job_hosts[envelope.namespace, lease] = RQHost(
			rq_job.connection, envelope.namespace, lease_seconds=lease
		)
	return host


# Hosts built by ``host_for_job``, by namespace and lease. jobkit's worker builds a job's host before
# the fork (``worker.starting``), so that its work-horses inherit it.
_job_hosts: dict[tuple[str, float], Host] = {}


def job_context(envelope: Envelope, rq_id: str | None) -> context.JobContext:
	"""What ``jobkit.current_job()`` tells about a run of ``envelope``."""
	return context.JobContext(
		id=envelope.id,
		rq_id=rq_id,
		method=envelope.method,
		queue=envelope.queue,
		namespace=envelope.namespace,
		attempt=envelope.attempt,
		user=envelope.user,
		enqueued_at=envelope.enqueued_at,
	)


def run_now(call) -> JobHandle:
	"""Run an accepted call (``enqueue.prepare(..., now=True)``) here and now, through the same wrapper
	as a worker's run: its error reaches the caller, its result the handle."""
	result = execute(call.host, call.envelope, rq_job=None)
	return call.handle(status="finished", result=result)


def execute(host: Host, envelope: Envelope, *, rq_job) -> Any:
	job = job_context(envelope, rq_job.id if rq_job is not None else None)
	tokens = context.enter_job(host, job)
	# A run in a worker is kept in flight so that the reaper learns if its process dies.
	in_flight = (
		InFlight(
			host.connection,
			envelope.namespace,
			rq_job.id,
			envelope.lease(host.lease_seconds),
			joined=envelope.joins_in_flight,
		)
		if rq_job is not None
		else nullcontext()
	)
	outcome: BaseException | None = None
	# A host whose job wrapper has no hooks of its own (plain RQ) has the runner record its stats.
	if rq_job is not None and host.records_stats:
		stats.begin_rq_job(rq_job, host.queue_name(rq_job.origin))
		# Written in the round trip that takes the run out of flight: no round trip of its own.
		in_flight.also_at_the_end(
			lambda failed: stats.ending(host.namespace, envelope.method, rq_job.id, failed=failed),
			scripts.STATS_RECORD,
		)
	gated = rq_job is not None and bool(envelope.get("gates"))
	try:
		with in_flight:
			try:
				# A rate counts the start at the call itself, after the method is imported (a fresh
				# work-horse's import can take longer than the rate's margin on a loaded machine).
				before_call = (lambda: _started_through_gates(host, envelope, rq_job)) if gated else None
				return _run_job(host, envelope, rq_job, job, before_call)
			finally:
				# Before the run leaves flight: a process that dies in between is reaped, and the
				# reaper frees the places then. A run left to the reaper has them freed by it.
				if gated and not in_flight.left_to_reaper:
					gates.release_quietly(host.connection, envelope, rq_job.id)
	except BaseException as e:
		outcome = e
		raise
	finally:
		# A tracker the job left open (jobkit.progress() without `with`) gets its final state.
		progress.close_open(job.rq_id or job.id, outcome)
		context.exit_job(tokens)


def _started_through_gates(host: Host, envelope: Envelope, rq_job) -> None:
	try:
		gates.started(host.connection, envelope, rq_job.id)
	except Exception:
		# The job was let in through its gates: it runs; only its start is not counted (reported).
		logger.exception("jobkit: could not count the start of %s on its gates", rq_job.id)


def _run_job(host: Host, envelope: Envelope, rq_job, job: context.JobContext, before_call=None) -> Any:
	# The unique lock is released only after the job's work is committed (and its callbacks
	# ran), so the next run of the same job id sees this run's data.
	with unique.held_while_running(host.connection, envelope.unique, job.rq_id):
		try:
			# Resolved inside: a method gone since the enqueue (a deploy) is a failure to record.
			method = methods.resolve(envelope.method)
			if before_call is not None:
				before_call()
			result = method(**envelope.kwargs)
		except Exception as exc:
			host.rollback()
			stats.failed()  # the run failed, whether or not a next attempt follows
			if rq_job is not None:  # else run here and now (now=True): the caller gets the error
				try:
					delay = retries.next_delay(host, envelope, exc)
					if delay is not None:
						# Not a failure yet: RQ sees this attempt end, and the next one is scheduled.
						retries.schedule_next_attempt(host, envelope, rq_job, delay, exc)
						return None
				except Exception:
					_leave_to_reaper(envelope, rq_job, "its next attempt")
					raise
				if not write_dead_letter(host, envelope, rq_job, exc, traceback.format_exc()):
					# The reaper writes it, and runs the failure callback then: once.
					_leave_to_reaper(envelope, rq_job, "its dead letter")
					raise
			run_failure_callback(host, envelope, rq_job, *sys.exc_info())
			if rq_job is not None and host.is_transient(exc):
				raise FinalFailure(
					f"{envelope.method} failed for good on attempt {job.attempt}: {type(exc).__name__}: {exc}"
				) from exc
			raise
		host.commit()
		callback = envelope.on_success
		if callback:
			methods.resolve(callback)(rq_job, host.connection, result)
			host.commit()
		return result


def write_dead_letter(
	host: Host, envelope: Envelope, rq_job, exc: BaseException, traceback_text: str
) -> bool:
	"""Keep the record of a final failure; False (reported, never raised) when it could not be kept."""
	try:
		host.dead_letter(dead_letter.DeadLetter.of(envelope, rq_job.id, exc, traceback_text))
		rq_job.meta[DEAD_LETTERED] = True
		rq_job.save_meta()
		return True
	except Exception as e:
		# Reported, and the job's own error still reaches RQ (its failed registry keeps the job).
		host.rollback()
		host.log_error(
			f"jobkit: could not keep the dead letter of {envelope.method} ({type(e).__name__})",
			traceback.format_exc(),
		)
		return False


def _leave_to_reaper(envelope: Envelope, rq_job, what: str) -> None:
	"""This run's outcome could not be written (Redis or the database unavailable): its in-flight
	entry stays when the run ends, so that the reaper retries the job or records its failure once
	the entry's lease has run out, instead of the job being lost."""
	entry = inflight.current()
	if entry is not None and entry.rq_id == rq_job.id:
		entry.leave_to_reaper()
	logger.warning(
		"jobkit: could not write %s of %s (%s); the reaper will once its lease ends",
		what,
		envelope.method,
		rq_job.id,
	)


def run_failure_callback(host: Host, envelope: Envelope, rq_job, exc_type, exc, tb) -> None:
	callback = envelope.on_failure
	if not callback:
		return
	try:
		methods.resolve(callback)(rq_job, host.connection, exc_type, exc, tb)
		host.commit()
	except Exception as e:
		# The job's own error is the one to report; a broken callback must not replace it.
		host.rollback()
		host.log_error(
			f"jobkit: on_failure callback {callback} of {envelope.method} raised {type(e).__name__}",
			str(e),
		)


def _checked(job: object) -> Envelope:
	envelope = Envelope.read(job)
	if envelope is None:
		version = job.get("v") if isinstance(job, dict) else None
		raise JobkitError(
			f"this worker's jobkit understands job envelope version {defaults.ENVELOPE_VERSION}, "
			f"not {version!r}: deploy the same jobkit version to the enqueuing side and the workers"
		)
	return envelope
