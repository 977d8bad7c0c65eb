"""The plain-RQ host's dead letters, kept in Redis: list, read, retry, discard.

One key per letter holds it pickled (as RQ holds a job), with a TTL; a sorted set scored by the
last failure's time indexes them, newest last, and sheds ids whose letters have expired. Redis
is trusted with pickles here exactly as RQ trusts it with every job it runs.
"""

import pickle
import time

from jobkit.engine import defaults, keys
from jobkit.engine.deadletter import DeadLetter
from jobkit.engine.errors import InvalidArgument, UnknownDeadLetter
from jobkit.engine.handle import JobHandle

DEFAULT_LIST_LIMIT = 100


class DeadLetters:
	"""The dead letters of one host's namespace; a retry enqueues through that host."""

	def __init__(self, host, ttl: int = defaults.DEAD_LETTER_TTL):
		self.host = host
		self.connection = host.connection
		self.namespace = host.namespace
		self.ttl = ttl
		self._index = keys.dead_letters(self.namespace)

	def __repr__(self) -> str:
		return f"<DeadLetters namespace={self.namespace!r}>"

	def add(self, letter: DeadLetter) -> None:
		with self.connection.pipeline() as pipe:
			pipe.set(self._key(letter.id), pickle.dumps(letter), ex=self.ttl)
			pipe.zadd(self._index, {letter.id: letter.last_failed_at})
			pipe.zremrangebyscore(self._index, "-inf", f"({time.time() - self.ttl}")
			pipe.expire(self._index, self.ttl)
			pipe.execute()

	def count(self) -> int:
		return self.connection.zcard(self._index)

	def ids(self, limit: int = DEFAULT_LIST_LIMIT) -> list[str]:
		"""Ids of the newest letters first."""
		if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
			raise InvalidArgument(f"limit must be a positive whole number, not {limit!r}")
		return [member.decode() for member in self.connection.zrevrange(self._index, 0, limit - 1)]

	def list(self, limit: int = DEFAULT_LIST_LIMIT) -> list[DeadLetter]:
		"""The newest letters first."""
		ids = self.ids(limit)
		blobs = self.connection.mget([self._key(letter_id) for letter_id in ids]) if ids else []
		return [pickle.loads(blob) for blob in blobs if blob is not None]

	def get(self, letter_id: str) -> DeadLetter:
		blob = self.connection.get(self._key(self._checked(letter_id)))
		if blob is None:
			raise self._unknown(letter_id)
		return pickle.loads(blob)

	def retry(self, letter_id: str) -> JobHandle:
		"""Enqueue the letter's job again, exactly as it was first enqueued; the letter goes.

		Taking the letter is atomic, so two callers retrying the same letter enqueue it once; if
		the enqueue is refused (its unique key is held, its method is gone), the letter stays.
		"""
		from jobkit.engine.enqueue import requeue

		key = self._key(self._checked(letter_id))
		with self.connection.pipeline() as pipe:  # MULTI: one caller gets the letter
			pipe.get(key)
			pipe.ttl(key)
			pipe.delete(key)
			blob, ttl, _ = pipe.execute()
		if blob is None:
			raise self._unknown(letter_id)
		try:
			handle = requeue(self.host, pickle.loads(blob).job)
		except BaseException:
			self.connection.set(key, blob, ex=max(ttl, 1))
			raise
		self.connection.zrem(self._index, letter_id)
		return handle

	def discard(self, letter_id: str) -> None:
		with self.connection.pipeline() as pipe:
			pipe.delete(self._key(self._checked(letter_id)))
			pipe.zrem(self._index, letter_id)
			deleted, _ = pipe.execute()
		if not deleted:
			raise self._unknown(letter_id)

	def _key(self, letter_id: str) -> str:
		return keys.dead_letter(self.namespace, letter_id)

	@staticmethod
	def _checked(letter_id: object) -> str:
		if not isinstance(letter_id, str) or not letter_id:
			raise InvalidArgument(f"a dead letter id is a non-empty string (its RQ id), not {letter_id!r}")
		return letter_id

	def _unknown(self, letter_id: str) -> UnknownDeadLetter:
		return UnknownDeadLetter(
			f"no dead letter {letter_id!r} in namespace {self.namespace!r}: it was retried or discarded "
			f"already, or expired; list the current ones with jobkit.dead_letters().ids()"
		)
