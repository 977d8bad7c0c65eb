"""The in-flight registry: the runs going on now, each under a lease that its process renews.

A run's process can die without a word (SIGKILL, the kernel's OOM killer, a lost machine, a hard
restart). The runner never sees it, so nothing retries the job or records its failure, and RQ
notices only some of these, late or never. Each run is therefore kept in a sorted set, scored by
the time its lease ends, and renewed every third of the lease while the run lives: by a thread of
the run's process, or, under jobkit's forking worker, by the worker while its work-horse runs (the
work-horse dies with its worker: see ``workhorse``). An entry whose lease ran out belongs to a run
that died, and the reaper takes it.
"""

import logging
import time
from dataclasses import dataclass

from jobkit.engine import keys, scripts
from jobkit.engine.lease import Renewer, renew_in_background

logger = logging.getLogger("jobkit")


class InFlight(Renewer):
	"""The in-flight entry of one run (its RQ id), from its start to its outcome.

	``joined``: the job writes the entry itself, in the first round trip it makes (``join``), and
	may remove it in the one that writes its outcome (``left``), instead of a round trip of its own
	at each end (a batch's chunk: see ``batches.running``).
	"""

	def __init__(self, connection, namespace: str, rq_id: str, lease_seconds: float, joined: bool = False):
		super().__init__(f"in-flight run {rq_id}", lease_seconds)
		self.connection = connection
		self.key = keys.in_flight(namespace)
		self.rq_id = rq_id
		self.lease_seconds = lease_seconds
		self.joined = joined
		self.removed = False
		self.left_to_reaper = False
		self._also = None

	def __enter__(self) -> "InFlight":
		started = worker_run(self.rq_id)
		if started is None:
			return super().__enter__()
		# jobkit's worker wrote the entry as it started the run, and may renew it too.
		_current.append(self)
		if not started.renewed_by_worker:
			renew_in_background(self)
		return self

	def start(self) -> None:
		if not self.joined:
			self.connection.zadd(self.key, {self.rq_id: time.time() + self.lease_seconds})
		_current.append(self)

	def join(self, pipe) -> None:
		"""Write the entry through ``pipe`` (the job's first round trip)."""
		pipe.zadd(self.key, {self.rq_id: time.time() + self.lease_seconds})

	def left(self) -> None:
		"""The job removed the entry itself, with its outcome."""
		self.removed = True

	def also_at_the_end(self, prepare, *used_scripts) -> None:
		"""At the run's end, ``prepare(failed)`` gives a function that queues commands on a pipeline
		(or None): they go in the round trip that removes the entry, or in one of their own when the
		job removed it itself. The run's stats, with no round trip more."""
		self._also = (prepare, used_scripts)

	def leave_to_reaper(self) -> None:
		"""Keep the entry when the run ends: its outcome could not be written, the reaper's will be."""
		self.removed = True
		self.left_to_reaper = True

	def __exit__(self, *exc_info) -> None:
		super().__exit__(*exc_info)
		_current.remove(self)
		prepare, used_scripts = self._also or (None, ())
		try:
			queue_also = prepare(exc_info[0] is not None) if prepare is not None else None
			if queue_also is None:  # the entry alone: one command, no pipeline
				if not self.removed:
					self.connection.zrem(self.key, self.rq_id)
				return

			def commands(pipe):  # run twice if Redis had to be sent a script: each part is safe to
				if not self.removed:
					pipe.zrem(self.key, self.rq_id)
				queue_also(pipe)

			scripts.execute_with(self.connection, commands, *used_scripts)
		except Exception:
			# The run's outcome is already written; the reaper will find this entry and see it. What
			# rode along (stats) is never the run's outcome either.
			logger.exception("jobkit: could not take %s out of the in-flight registry", self.rq_id)

	def renew(self) -> bool:
		# XX: an entry the reaper has removed is not written back.
		deadline = time.time() + self.lease_seconds
		return bool(self.connection.zadd(self.key, {self.rq_id: deadline}, xx=True, ch=True))


_current: list[InFlight] = []


@dataclass
class WorkerRun:
	"""A run whose in-flight entry jobkit's worker wrote as it started it (``worker.starting``)."""

	rq_id: str
	namespace: str
	lease_seconds: float
	# The worker renews the entry while the run's work-horse lives (``workhorse``).
	renewed_by_worker: bool = False


# The last run this process's worker started (inherited by its work-horse): one at a time.
_started: WorkerRun | None = None


def started_by_worker(rq_id: str, namespace: str, lease_seconds: float) -> None:
	"""Note that this process's worker wrote the entry of the run ``rq_id`` it is starting."""
	global _started
	_started = WorkerRun(rq_id, namespace, lease_seconds)


def forget_worker_run() -> None:
	global _started
	_started = None


def worker_run(rq_id: str) -> WorkerRun | None:
	"""The run ``rq_id``, if this process's worker wrote its entry as it started it."""
	return _started if _started is not None and _started.rq_id == rq_id else None


def current() -> InFlight | None:
	"""The in-flight entry of the run going on in this process, if any."""
	return _current[-1] if _current else None
