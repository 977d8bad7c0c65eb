"""Records the plain-RQ host keeps in Redis (dead letters, skipped runs): add, count, list, read, discard.

One key per record holds it pickled (as RQ holds a job), with a TTL; a sorted set scored by the
record's time indexes them, newest last, and sheds ids whose records have expired. Writing a
record under an id it already has replaces it, so a writer that runs twice (a reaper taking a
run again after a crash) leaves one record. Redis is trusted with pickles here exactly as RQ
trusts it with every job it runs.
"""

import pickle
import time

from jobkit.engine.errors import InvalidArgument, NotConfigured
from jobkit.engine.numbers import whole_number

DEFAULT_LIST_LIMIT = 100


def store_of(host, attribute: str, store_class: type, kept_elsewhere: str):
	"""The host's store of one kind (``host.<attribute>``); a host that keeps those records
	elsewhere (Frappe: DocTypes) raises ``NotConfigured`` saying where (``kept_elsewhere``)."""
	store = getattr(host, attribute, None)
	if not isinstance(store, store_class):
		raise NotConfigured(f"the {host.name} host keeps {kept_elsewhere}")
	return store


class RecordStore:
	"""The records of one kind in one host's namespace. Subclasses name the kind and its keys."""

	#: What one record is called in messages ("dead letter").
	noun = "record"

	def __init__(self, host, ttl: int):
		self.host = host
		self.connection = host.connection
		self.namespace = host.namespace
		self.ttl = ttl
		self._index = self._index_key()

	def __repr__(self) -> str:
		return f"<{type(self).__name__} namespace={self.namespace!r}>"

	def _index_key(self) -> str:
		raise NotImplementedError

	def _key(self, record_id: str) -> str:
		raise NotImplementedError

	def _unknown(self, record_id: str) -> Exception:
		raise NotImplementedError

	def _dump(self, record) -> object:
		"""What is pickled for ``record`` (by default, the record itself)."""
		return record

	def _load(self, stored: object):
		return stored

	def add(self, record) -> None:
		"""Keep ``record`` (it has ``id`` and ``at``, a Unix time), replacing one with its id."""
		with self.connection.pipeline() as pipe:
			pipe.set(self._key(record.id), pickle.dumps(self._dump(record)), ex=self.ttl)
			pipe.zadd(self._index, {record.id: record.at})
			pipe.zremrangebyscore(self._index, "-inf", f"({time.time() - self.ttl}")
			pipe.expire(self._index, self.ttl)
			pipe.execute()

	def count(self) -> int:
		return self.connection.zcard(self._index)

	def ids(self, limit: int = DEFAULT_LIST_LIMIT) -> list[str]:
		"""Ids of the newest records first."""
		whole_number("limit", limit)
		return [member.decode() for member in self.connection.zrevrange(self._index, 0, limit - 1)]

	def list(self, limit: int = DEFAULT_LIST_LIMIT) -> list:
		"""The newest records first."""
		ids = self.ids(limit)
		blobs = self.connection.mget([self._key(record_id) for record_id in ids]) if ids else []
		return [self._load(pickle.loads(blob)) for blob in blobs if blob is not None]

	def get(self, record_id: str):
		blob = self.connection.get(self._key(self._checked(record_id)))
		if blob is None:
			raise self._unknown(record_id)
		return self._load(pickle.loads(blob))

	def discard(self, record_id: str) -> None:
		with self.connection.pipeline() as pipe:
			pipe.delete(self._key(self._checked(record_id)))
			pipe.zrem(self._index, record_id)
			deleted, _ = pipe.execute()
		if not deleted:
			raise self._unknown(record_id)

	def _checked(self, record_id: object) -> str:
		if not isinstance(record_id, str) or not record_id:
			raise InvalidArgument(f"a {self.noun} id is a non-empty string (an RQ id), not {record_id!r}")
		return record_id
