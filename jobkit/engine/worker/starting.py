"""Starting a job a worker took: the note ``taking.take`` left goes and, for a jobkit job, its run
goes in flight, in one step (``taking.start``); the job's host is built before the fork, and a
batch chunk's first reads ride in the same round trip, for the work-horse to inherit."""

import logging
import time

from jobkit.engine import inflight, keys, taking
from jobkit.engine.envelope import Envelope

logger = logging.getLogger("jobkit")


def start(connection, rq_job, *, build_host: bool = True) -> bool:
	"""Start a job this worker took: remove the note ``taking.take`` left and put a jobkit job's run
	in its namespace's in-flight registry under its lease (noted: ``inflight.started_by_worker``).
	False when the job was given back to its queue (the worker took longer than the note lasts) and
	must not run here. ``build_host``: build a jobkit job's host here, for its work-horse to inherit
	(pointless where each job's wrapper builds its own: Frappe's).
	"""
	inflight.forget_worker_run()
	envelope = Envelope.found_in(rq_job)
	in_flight = None
	if envelope is not None:
		if build_host:
			_build_host(envelope, rq_job)
		lease = envelope.lease()
		in_flight = (keys.in_flight(envelope.namespace), time.time() + lease)
	try:
		if taking.was_taken(rq_job):
			# A batch chunk's first reads go in the same round trip; the work-horse inherits them.
			chunk_runs = _chunk_runs() if envelope is not None else None
			read = chunk_runs.start_reads(envelope) if chunk_runs is not None else None
			started, replies = taking.start(connection, rq_job.id, in_flight, read)
			if started and read is not None:
				chunk_runs.keep_start_reads(rq_job.id, replies)
		else:
			started = True
			if in_flight is not None:
				connection.zadd(in_flight[0], {rq_job.id: in_flight[1]})
		if started and envelope is not None:
			inflight.started_by_worker(rq_job.id, envelope.namespace, lease)
		return started
	except Exception:
		# The job runs: its work-horse can only begin it through Redis, which marks it started, so
		# the note cannot give back a job that ran; the runner writes the in-flight entry itself.
		logger.exception("jobkit: could not start %s in flight before its run", rq_job.id)
	return True


def _build_host(envelope: Envelope, rq_job) -> None:
	"""Build the job's host before the fork, where a bare worker has none of its own: the work-horse
	inherits it instead of building one for every job."""
	from jobkit.engine import runner, scripts  # runner: see _chunk_runs

	try:
		if runner.host_for_job(envelope, rq_job).records_stats:
			_ = scripts.STATS_RECORD.sha  # read here once: each work-horse records its run with it
	except Exception:  # e.g. an invalid namespace: the work-horse meets it again and fails the job
		logger.debug("jobkit: no host for %s before its run", rq_job.id, exc_info=True)


def _chunk_runs():
	# Imported at a jobkit job's first start, not with the worker: what the parent imports, every
	# work-horse it forks carries, and a worker that runs only other jobs (Frappe's, on a bench)
	# stays within Frappe's own bound on a job's memory (test_memory_usage).
	from jobkit.engine.batches import running

	return running
