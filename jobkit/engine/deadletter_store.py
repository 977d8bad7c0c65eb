"""The plain-RQ host's dead letters, kept in Redis (``record_store``): list, read, retry, discard."""

import pickle

from jobkit.engine import defaults, keys
from jobkit.engine.errors import UnknownDeadLetter
from jobkit.engine.handle import JobHandle
from jobkit.engine.record_store import DEFAULT_LIST_LIMIT, RecordStore

# How long one caller's retry of a letter keeps others from retrying it. A caller that dies while
# retrying leaves the letter in place; it can be retried again once this has passed.
RETRY_CLAIM_SECONDS = 60

__all__ = ["DEFAULT_LIST_LIMIT", "DeadLetters"]


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
		from jobkit.engine.enqueue import requeue

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
