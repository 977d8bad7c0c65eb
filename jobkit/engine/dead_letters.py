"""Dead letters retried (``requeue``, for every host), and the plain-RQ host's, kept in Redis
(``record_store``): list, read, retry, discard."""

import pickle

from jobkit.engine import defaults, keys, unique
from jobkit.engine.enqueue import enqueue
from jobkit.engine.errors import UnknownDeadLetter
from jobkit.engine.handle import JobHandle
from jobkit.engine.record_store import DEFAULT_LIST_LIMIT, RecordStore
from jobkit.engine.retries import Retry

# How long one caller's retry of a letter keeps others from retrying it. A caller that dies while
# retrying leaves the letter in place; it can be retried again once this has passed.
RETRY_CLAIM_SECONDS = 60

__all__ = ["DEFAULT_LIST_LIMIT", "DeadLetters", "requeue"]


def requeue(host, job: dict) -> JobHandle:
	"""Enqueue a stored job again (a dead letter's): its method, queue, timeout, arguments, user,
	unique key, retry policy and callbacks, as a new first attempt that runs now.

	A unique job keeps its id, and a copy already holding the key raises ``DuplicateJob`` rather
	than being skipped silently; any other job gets a new id, so it is not confused with the RQ job
	of its failed run.
	"""
	held = job.get("unique")
	unique_options: dict = {"unique_lock": False}
	if held:
		unique_options = {"job_id": job["id"], "unique_lock": held["lock"], "unique_ttl": held["ttl"]}
		if held["lock"] != unique.WHILE_EXECUTING:  # the one lock type where every call may queue
			unique_options["on_conflict"] = unique.RAISE
	return enqueue(
		host,
		job["method"],
		queue=job["queue"],
		timeout=job["timeout"],
		**unique_options,
		retry=Retry.from_envelope(job["retry"]) if job.get("retry") else None,
		on_success=job.get("on_success"),
		on_failure=job.get("on_failure"),
		job_name=job.get("name"),
		user=job.get("user"),
		kwargs=job["kwargs"],
	)


class DeadLetters(RecordStore):
	"""The dead letters of one host's namespace; a retry enqueues through that host."""

	noun = "dead letter"

	def __init__(self, host, ttl: int = defaults.DEAD_LETTER_TTL):
		super().__init__(host, ttl)

	def _index_key(self) -> str:
		return keys.dead_letters(self.namespace)

	def _key(self, letter_id: str) -> str:
		return keys.dead_letter(self.namespace, letter_id)

	def retry(self, letter_id: str) -> JobHandle:
		"""Enqueue the letter's job again, exactly as it was first enqueued; the letter goes.

		One caller at a time retries a letter: the others get ``UnknownDeadLetter``, saying so. The
		letter goes only once its job is enqueued: if the enqueue is refused (its unique key is
		held, its method is gone) or the caller dies first, the letter stays, to be retried later.
		"""
		key = self._key(self._checked(letter_id))
		claim = keys.dead_letter_retrying(self.namespace, letter_id)
		if not self.connection.set(claim, "1", nx=True, ex=RETRY_CLAIM_SECONDS):
			if not self.connection.exists(key):
				raise self._unknown(letter_id)
			raise UnknownDeadLetter(
				f"dead letter {letter_id!r} is being retried by another caller right now; look at "
				"jobkit.dead_letters().ids() again in a minute"
			)
		try:
			blob = self.connection.get(key)
			if blob is None:
				raise self._unknown(letter_id)
			handle = requeue(self.host, pickle.loads(blob).job)
			with self.connection.pipeline() as pipe:  # MULTI: the letter and its claim go together
				pipe.delete(key)
				pipe.zrem(self._index, letter_id)
				pipe.delete(claim)
				pipe.execute()
		except BaseException:
			self.connection.delete(claim)
			raise
		return handle

	def _unknown(self, letter_id: str) -> UnknownDeadLetter:
		return UnknownDeadLetter(
			f"no dead letter {letter_id!r} in namespace {self.namespace!r}: it was retried or discarded "
			f"already, or expired; list the current ones with jobkit.dead_letters().ids()"
		)
