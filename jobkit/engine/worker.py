"""RQ workers for jobkit jobs: jobkit loaded before the fork, and each job held in flight from the
moment the worker takes it.

    rq worker --worker-class jobkit.engine.worker.Worker short default long

Any RQ worker runs jobkit jobs. These add two things:
- jobkit is imported in the worker, before the first fork: a forking worker that has not
  imported it makes each job import it after the fork (about 25 ms), which matters for many
  short jobs such as batch chunks;
- a jobkit job is put in the in-flight registry (``inflight``) as soon as the worker has taken
  it, before the fork. Until jobkit's runner starts in the work-horse, RQ alone knows of the job,
  and on rq 1.x it records nothing until the work-horse runs (the job is off its queue and in no
  registry): a worker lost there would lose the job. Held in flight, it is reaped and retried
  like any lost run.
"""

import logging
import time

from rq.worker import SimpleWorker as _SimpleWorker
from rq.worker import Worker as _Worker

import jobkit
import jobkit.engine.batch_runner
import jobkit.engine.runner
from jobkit.engine import defaults, keys

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


def hold_in_flight(connection, rq_job) -> None:
	"""Put a jobkit job in its namespace's in-flight registry under its lease (the runner renews it)."""
	envelope = envelope_in(rq_job)
	if envelope is None:
		return
	lease = jobkit.engine.runner.lease_of_envelope(envelope)
	try:
		connection.zadd(keys.in_flight(envelope["ns"]), {rq_job.id: time.time() + lease})
	except Exception:
		# The runner writes the entry itself when the job starts; only the gap stays uncovered.
		logger.exception("jobkit: could not hold %s in flight before its run", rq_job.id)


class Worker(_Worker):
	"""rq's forking Worker, with jobkit loaded in the parent and jobs held in flight before the fork."""

	def execute_job(self, job, queue):
		hold_in_flight(self.connection, job)
		return super().execute_job(job, queue)


class SimpleWorker(_SimpleWorker):
	"""rq's SimpleWorker (no fork), with jobkit loaded up front and jobs held in flight at once."""

	def execute_job(self, job, queue):
		hold_in_flight(self.connection, job)
		return super().execute_job(job, queue)


__all__ = ["SimpleWorker", "Worker", "envelope_in", "hold_in_flight"]
