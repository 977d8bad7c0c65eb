"""RQ workers for jobkit jobs: jobkit loaded before the fork, and no job lost between the moment a
worker takes it and the start of its run.

    rq worker --worker-class jobkit.engine.worker.Worker short default long

Any RQ worker runs jobkit jobs. These add:
- jobkit is imported in the worker, before the first fork: a forking worker that has not
  imported it makes each job import it after the fork (about 25 ms), which matters for many
  short jobs such as batch chunks;
- a job is taken off its queue with a note that it was (``taking``), and started by removing the
  note in the same step that puts a jobkit job in the in-flight registry (``inflight``). RQ's own
  pop leaves a job in no queue and, on rq 1.x, in no registry until its work-horse runs, so a
  worker lost in between loses it; with the note, the reaper gives it back to its queue, and once
  in flight, a lost run is reaped and retried like any other;
- the forking worker renews its work-horse's in-flight entry while it waits for it, and the
  work-horse dies with its worker (``workhorse``): a job pays no renewal thread of its own.
"""

import logging
import time

from rq.worker import SimpleWorker as _SimpleWorker
from rq.worker import Worker as _Worker

import jobkit
import jobkit.engine.batch_runner
import jobkit.engine.runner
from jobkit.engine import defaults, inflight, keys, taking, workhorse

logger = logging.getLogger("jobkit")


def envelope_in(rq_job) -> dict | None:
	"""The jobkit envelope an RQ job carries, in the plain-RQ host's format or Frappe's."""
	try:
		kwargs = rq_job.kwargs
	except Exception:  # a job this process cannot unpickle: its work-horse reports it
		return None
	envelope = kwargs.get("job")
	if not isinstance(envelope, dict):
		envelope = (kwargs.get("kwargs") or {}).get("job") if isinstance(kwargs.get("kwargs"), dict) else None
	if isinstance(envelope, dict) and envelope.get("v") == defaults.ENVELOPE_VERSION and "ns" in envelope:
		return envelope
	return None


def hold(connection, rq_job) -> bool:
	"""Start a job this worker took: remove the note ``taking.take`` left and put a jobkit job in
	its namespace's in-flight registry under its lease (noted: ``inflight.held_by_worker``). False
	when the job was given back to its queue (the worker took longer than the note lasts) and must
	not run here.
	"""
	inflight.forget_held()
	envelope = envelope_in(rq_job)
	in_flight = None
	if envelope is not None:
		_build_host(envelope, rq_job)
		lease = jobkit.engine.runner.lease_of_envelope(envelope)
		in_flight = (keys.in_flight(envelope["ns"]), time.time() + lease)
	try:
		if taking.was_taken(rq_job):
			# A batch chunk's first reads go in the same round trip; the work-horse inherits them.
			read = jobkit.engine.batch_runner.start_reads(envelope) if envelope is not None else None
			held, replies = taking.hold(connection, rq_job.id, in_flight, read)
			if held and read is not None:
				jobkit.engine.batch_runner.keep_start_reads(rq_job.id, replies)
		else:
			held = True
			if in_flight is not None:
				connection.zadd(in_flight[0], {rq_job.id: in_flight[1]})
		if held and envelope is not None:
			inflight.held_by_worker(rq_job.id, envelope["ns"], lease)
		return held
	except Exception:
		# The job runs: its work-horse can only begin it through Redis, which marks it started, so
		# the note cannot give back a job that ran; the runner writes the in-flight entry itself.
		logger.exception("jobkit: could not hold %s before its run", rq_job.id)
	return True


def _build_host(envelope: dict, rq_job) -> None:
	"""Build the job's host before the fork, where a bare worker has none of its own: the work-horse
	inherits it instead of building one for every job."""
	try:
		jobkit.engine.runner.host_for_job(envelope, rq_job)
	except Exception:  # e.g. an invalid namespace: the work-horse meets it again and fails the job
		logger.debug("jobkit: no host for %s before its run", rq_job.id, exc_info=True)


class _Taking:
	"""Takes jobs through ``taking`` and holds them before running them (see the module's docstring)."""

	def __init__(self, *args, **kwargs):
		super().__init__(*args, **kwargs)
		# After RQ's own checks of the queues given (instances of the class passed, or RQ's).
		self.queue_class = taking.queue_class_for(self.queue_class)

	def execute_job(self, job, queue):
		if not hold(self.connection, job):
			logger.warning("jobkit: %s was given back to its queue before this worker started it", job.id)
			return None
		return self.execute_held_job(job, queue)

	def execute_held_job(self, job, queue):
		return super().execute_job(job, queue)


class Worker(_Taking, _Worker):
	"""rq's forking Worker, with jobkit loaded in the parent, jobs taken and held safely, and the
	in-flight entry of a jobkit run renewed here while its work-horse runs."""

	_renewal: workhorse.Renewal | None = None

	def execute_held_job(self, job, queue):
		held = inflight.held_run(job.id)
		if held is not None and workhorse.supported():
			self._renewal = workhorse.Renewal(self.connection, held)
		try:
			return super().execute_held_job(job, queue)
		finally:
			self._renewal = None  # the work-horse has ended: nothing renews its entry any more

	def main_work_horse(self, job, queue):
		if self._renewal is not None:
			self._renewal.in_work_horse()
		return super().main_work_horse(job, queue)

	def wait_for_horse(self):
		if self._renewal is not None and self.horse_pid:
			self._renewal.wait_for(self.horse_pid)
		return super().wait_for_horse()


class SimpleWorker(_Taking, _SimpleWorker):
	"""rq's SimpleWorker (no fork), with jobkit loaded up front and jobs taken and held safely."""


__all__ = ["SimpleWorker", "Worker", "envelope_in", "hold"]
