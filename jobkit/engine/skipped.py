"""Skipped runs: calls accepted and then not run on purpose, each with a record saying why.

A run a person cancelled before it was due (``cancelled``: a delayed job or a waiting retry, from
the Jobs page) is one; the other two reasons are about a unique key held by another job:

- ``overlap``: the host's scheduler called an ``@jobkit.job`` target while its previous run was
  still queued or running (``jobfunction``), so this tick's run was not handed off;
- ``superseded``: the next attempt of a failed or lost run could not take its unique key, because
  a newer copy of the job holds it (the key ran out with the lost run's lease, and a new call took
  it). The holder is the job's run now; the attempt is not written, and its arguments, which did
  not run, are kept on the record. The run's RQ job names the holder (``SUPERSEDED_META``), so
  its handle ends ``superseded`` (``handle.superseded_by``).

The host keeps the record: the Frappe host as a "Jobkit Skipped Run", the plain-RQ host in Redis
(``jobkit.skipped_runs()``). A superseded attempt's record has the id of the run it followed, so
writing it twice (a reaper taking the run again after a crash) leaves one record.
"""

import dataclasses
import time
from dataclasses import dataclass
from uuid import uuid4

from jobkit.engine import defaults, keys
from jobkit.engine.dead_letter import redact
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import UnknownSkippedRun
from jobkit.engine.record_store import RecordStore

OVERLAP = "overlap"
SUPERSEDED = "superseded"
CANCELLED = "cancelled"
REASONS = (OVERLAP, SUPERSEDED, CANCELLED)


@dataclass(frozen=True)
class SkippedRun:
	"""The record of a run not started on purpose."""

	id: str
	reason: str
	method: str
	job_id: str
	holder: str  # the RQ id of the job holding the key
	holder_status: str | None
	at: float
	queue: str | None = None
	user: str | None = None
	rq_id: str | None = None  # superseded: the run whose next attempt this was
	attempt: int | None = None  # superseded: the attempt not run
	error: str | None = None  # superseded: why that attempt was due
	job: dict | None = None  # superseded: the job as enqueued, with the arguments not run

	@classmethod
	def overlap(cls, method: str, job_id: str, holder: str, holder_status: str | None) -> "SkippedRun":
		return cls(uuid4().hex, OVERLAP, method, job_id, holder, holder_status, time.time())

	@classmethod
	def superseded(cls, envelope: Envelope, rq_id: str, meta: dict) -> "SkippedRun":
		"""The record of the attempt that was to follow the run ``rq_id`` (of ``envelope``)."""
		return cls(
			id=rq_id,
			reason=SUPERSEDED,
			method=envelope.method,
			job_id=envelope.id,
			holder=meta["holder"],
			holder_status=meta["holder_status"],
			at=meta["at"],
			queue=envelope.queue,
			user=envelope.user,
			rq_id=rq_id,
			attempt=meta["attempt"],
			error=meta["error"],
			job=envelope.first_attempt(),
		)

	@classmethod
	def cancelled(cls, envelope: Envelope, rq_id: str, by: str | None) -> "SkippedRun":
		"""The record of the delayed attempt ``rq_id`` of ``envelope``, cancelled by ``by``."""
		return cls(
			id=rq_id,
			reason=CANCELLED,
			method=envelope.method,
			job_id=envelope.id,
			holder=rq_id,
			holder_status="cancelled",
			at=time.time(),
			queue=envelope.queue,
			user=envelope.user,
			rq_id=rq_id,
			attempt=envelope.attempt,
			error=f"cancelled by {by}" if by else "cancelled",
			job=envelope.first_attempt(),
		)

	@staticmethod
	def meta(holder: str, holder_status: str | None, attempt: int, error: str) -> dict:
		"""What the run's RQ job keeps in its meta (``SUPERSEDED_META``): its record is rebuilt from
		it and the job's envelope, so that a writer that died before the record can be run again."""
		return {
			"holder": holder,
			"holder_status": holder_status,
			"attempt": attempt,
			"error": error,
			"at": time.time(),
		}

	@property
	def kwargs(self) -> dict | None:
		"""The arguments that did not run, secrets redacted: the form to show."""
		return redact(self.job["kwargs"]) if self.job is not None else None


_FIELDS = tuple(field.name for field in dataclasses.fields(SkippedRun))


class SkippedRuns(RecordStore):
	"""The plain-RQ host's skipped runs, kept in Redis: ``ids()``, ``list()``, ``get(id)``,
	``discard(id)``."""

	noun = "skipped run"

	def __init__(self, host, ttl: int = defaults.DEAD_LETTER_TTL):
		super().__init__(host, ttl)

	def _index_key(self) -> str:
		return keys.skipped_runs(self.namespace)

	def _key(self, record_id: str) -> str:
		return keys.skipped_run(self.namespace, record_id)

	# Kept as a plain dict: no class path of jobkit's is pickled into Redis.
	def _dump(self, record: SkippedRun) -> dict:
		return dataclasses.asdict(record)

	def _load(self, stored: dict) -> SkippedRun:
		return SkippedRun(**{name: stored[name] for name in _FIELDS if name in stored})

	def _unknown(self, record_id: str) -> UnknownSkippedRun:
		return UnknownSkippedRun(
			f"no skipped run {record_id!r} in namespace {self.namespace!r}: it was discarded or expired; "
			"list the current ones with jobkit.skipped_runs().ids()"
		)
