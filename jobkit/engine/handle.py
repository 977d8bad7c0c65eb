"""What ``jobkit.enqueue`` returns: the job's ids and a live view of its status."""

from typing import Any

# Statuses of a handle whose job is not an RQ job in Redis.
WAITING_FOR_COMMIT = "waiting for commit"
# A retried attempt's RQ job names the next attempt; a handle follows at most this many.
MAX_ATTEMPTS_FOLLOWED = 100
RETRIED_AS = "jobkit_retried_as"
# A run whose next attempt was superseded by a newer copy holding its unique key (see ``skipped``):
# its RQ job's meta names the holder, and the handle ends "superseded".
SUPERSEDED_META = "jobkit_superseded"
SUPERSEDED = "superseded"
# A run whose final failure the reaper recorded (its process died): its handle ends "failed",
# whatever RQ still says of the job.
DEAD_LETTERED = "jobkit_dead_lettered"
FAILED = "failed"


class JobHandle:
	"""A reference to one enqueued job.

	``id`` is the logical id (the ``job_id`` given, or a generated one); ``rq_id`` is the id of the
	RQ job in Redis. ``status`` reads Redis on each access: ``"queued"``, ``"started"``,
	``"finished"``, ``"failed"``..., or None once RQ no longer keeps the job. ``duplicate`` is
	True when a unique job's key was held: the handle then points to the holder (``rq_id``), and
	``replaced`` tells whether the holder took this call's arguments.

	A call whose retry could not take its unique key, because a newer copy holds it, ends
	``"superseded"``: ``superseded_by`` is then the RQ id of that copy, the job's run now.
	"""

	__slots__ = (
		"_connection",
		"_pending",
		"_status",
		"duplicate",
		"id",
		"method",
		"queue",
		"replaced",
		"result",
		"rq_id",
	)

	def __init__(
		self,
		id: str,
		rq_id: str,
		queue: str,
		method: str,
		connection,
		*,
		pending: bool = False,
		status: str | None = None,
		result: Any = None,
		duplicate: bool = False,
		replaced: bool = False,
	):
		self.id = id
		self.rq_id = rq_id
		self.queue = queue
		self.method = method
		self.result = result
		self.duplicate = duplicate
		self.replaced = replaced
		self._connection = connection
		self._pending = pending
		self._status = status

	def __repr__(self) -> str:
		duplicate = " duplicate" if self.duplicate else ""
		return f"<JobHandle {self.id!r} {self.method} on {self.queue!r}{duplicate}>"

	def fetch(self):
		"""The RQ job of the latest attempt, or None if Redis does not hold it (yet, or any more)."""
		if self._status is not None:
			return None
		from rq.exceptions import NoSuchJobError
		from rq.job import Job

		rq_id, job = self.rq_id, None
		for _ in range(MAX_ATTEMPTS_FOLLOWED):
			try:
				job = Job.fetch(rq_id, connection=self._connection)
			except NoSuchJobError:
				return job
			rq_id = job.meta.get(RETRIED_AS)
			if not rq_id:
				return job
		return job

	@property
	def status(self) -> str | None:
		if self._status is not None:
			return self._status
		job = self.fetch()
		if job is None:
			return WAITING_FOR_COMMIT if self._pending else None
		self._pending = False
		if job.meta.get(SUPERSEDED_META):
			return SUPERSEDED
		from jobkit.engine.rqcompat import job_status

		status = job_status(job)
		if status == "started" and job.meta.get(DEAD_LETTERED):
			return FAILED  # its process died: RQ may not know for minutes
		return status

	@property
	def superseded_by(self) -> str | None:
		"""The RQ id of the copy that superseded this call's next attempt, if one did."""
		job = self.fetch()
		superseded = job.meta.get(SUPERSEDED_META) if job is not None else None
		return superseded["holder"] if superseded else None
