"""RQ workers for jobkit jobs: jobkit loaded before the fork, and no job lost between the moment a
worker takes it and the start of its run.

    rq worker --worker-class jobkit.engine.worker.Worker short default long

Any RQ worker runs jobkit jobs. These add:
- jobkit is imported in the worker, before the first fork: a forking worker that has not
  imported it makes each job import it after the fork (about 25 ms), which matters for many
  short jobs such as batch chunks;
- a job is taken off its queue with a note that it was (``taking``), and started by removing the
  note in the same step that puts a jobkit job's run in the in-flight registry (``starting``). RQ's own
  pop leaves a job in no queue and, on rq 1.x, in no registry until its work-horse runs, so a
  worker lost in between loses it; with the note, the reaper gives it back to its queue, and once
  in flight, a lost run is reaped and retried like any other;
- a paused queue (``pausing``) starts no job on them;
- the gates' timer (``limits.gates.Timer``) runs in a thread, letting limited jobs in on time;
- the forking worker renews its work-horse's in-flight entry while it waits for it, and the
  work-horse dies with its worker (``workhorse``): a job pays no renewal thread of its own.
"""

import logging

from rq.worker import SimpleWorker as _SimpleWorker
from rq.worker import Worker as _Worker

from jobkit.engine import inflight, pausing, taking
from jobkit.engine.limits import gates
from jobkit.engine.worker import workhorse
from jobkit.engine.worker.starting import start

logger = logging.getLogger("jobkit")


class _Taking:
	"""Takes jobs through ``taking`` and starts them through ``starting`` (see the module's docstring)."""

	# Import what a job's `jobkit.*` calls import before the first fork (about 25 ms a job saved).
	# A worker whose jobs are mostly not jobkit's (`bench jobkit-worker`) leaves it to the jobs.
	preloads_jobkit = True

	def __init__(self, *args, **kwargs):
		if self.preloads_jobkit:
			import jobkit.engine.public
		super().__init__(*args, **kwargs)
		# After RQ's own checks of the queues given (instances of the class passed, or RQ's).
		self.queue_class = taking.queue_class_for(self.queue_class)

	def work(self, *args, **kwargs):
		# The gates' timer: rate-limited jobs are let in the moment their window allows, not at the
		# next scheduler tick (a thread of this process; work-horses do not inherit it).
		timer = gates.Timer(self.connection)
		timer.start()
		try:
			return super().work(*args, **kwargs)
		finally:
			timer.stop.set()

	def register_birth(self, *args, **kwargs):
		super().register_birth(*args, **kwargs)
		pausing.mark_worker(self.connection, self.key)  # it honours pauses (pausing.unaware_workers)

	def execute_job(self, job, queue):
		if not start(self.connection, job, build_host=self.preloads_jobkit):
			logger.warning("jobkit: %s was given back to its queue before this worker started it", job.id)
			return None
		return self.execute_started_job(job, queue)

	def execute_started_job(self, job, queue):
		return super().execute_job(job, queue)


class Worker(_Taking, _Worker):
	"""rq's forking Worker, with jobkit loaded in the parent, jobs taken and started safely, and the
	in-flight entry of a jobkit run renewed here while its work-horse runs."""

	_renewal: workhorse.Renewal | None = None

	def execute_started_job(self, job, queue):
		run = inflight.worker_run(job.id)
		if run is not None and workhorse.supported():
			self._renewal = workhorse.Renewal(self.connection, run)
		try:
			return super().execute_started_job(job, queue)
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
	"""rq's SimpleWorker (no fork), with jobkit loaded up front and jobs taken and started safely."""


__all__ = ["SimpleWorker", "Worker"]
