"""The worker side of batches: running a chunk, counting it once, releasing the next, finishing.

Each chunk is a jobkit job (``run_chunk``) with the batch's queue, timeout, user and chunk retry
policy, written when the batch is created. Its end is counted by one script call
(``batch_end.lua``), which also queues the next pending chunk in its place; the call that ends the
last chunk finishes the batch: final status, then ``on_complete`` (and ``on_success`` or
``on_failure``) with a summary.

Per item (``per_item=True``), each item runs in the host's item scope (a savepoint on a site): a
failing item is rolled back and recorded with its error, and the rest of the chunk goes on. Near
its timeout, or at ``jobkit.current_chunk().checkpoint(position)``, a chunk stops and the rest
runs as a continuation segment, in the same slot of ``max_parallel``.
"""

import json
import pickle
import time
from dataclasses import dataclass, field
from functools import partial

from jobkit.engine import context, inflight, keys, methods
from jobkit.engine.batches.chunks import chunk_job
from jobkit.engine.batches.ending import end_segment
from jobkit.engine.batches.state import RUN_CHUNK_PATHS, BatchSpec, load_spec, read_state
from jobkit.engine.envelope import Envelope
from jobkit.engine.host import Host

# A chunk checkpoints once this share of its timeout has passed.
DEADLINE_SHARE = 0.8
# How often a running chunk reads the batch's cancel flag (seconds).
CANCEL_CHECK_SECONDS = 0.5


@dataclass
class ChunkContext:
	"""What a running chunk can know and do (``jobkit.current_chunk()``)."""

	batch_id: str
	index: int
	start: int
	items: list
	deadline: float | None
	_host: Host = field(repr=False)
	_cancelled: bool = False
	_checked_at: float = 0.0
	checkpoint_at: int | None = None

	@property
	def cancelled(self) -> bool:
		"""Whether the batch was cancelled (read from Redis at most every half second)."""
		now = time.monotonic()
		if not self._cancelled and now - self._checked_at >= CANCEL_CHECK_SECONDS:
			self._checked_at = now
			state_key = keys.batch(self._host.namespace, self.batch_id)["state"]
			self._cancelled = bool(self._host.connection.hexists(state_key, "cancelled"))
		return self._cancelled

	def near_deadline(self) -> bool:
		return self.deadline is not None and time.monotonic() >= self.deadline

	def checkpoint(self, position: int) -> None:
		"""Items before ``position`` (of ``items``) are done: the rest runs as a continuation."""
		if isinstance(position, bool) or not isinstance(position, int) or not 0 < position <= len(self.items):
			raise ValueError(f"checkpoint position must be between 1 and {len(self.items)}, not {position!r}")
		self.checkpoint_at = position


_current: list[ChunkContext] = []


def current_chunk() -> ChunkContext | None:
	return _current[-1] if _current else None


@dataclass
class ChunkStart:
	"""What a chunk segment's run reads as it starts (``_read_start``), decoded."""

	spec: "BatchSpec | None"  # None: the batch is gone
	cancelled: bool
	user: str | None
	chunk: dict | None

	@classmethod
	def of(cls, replies: list, spec: "BatchSpec | None" = None) -> "ChunkStart":
		"""Decode ``_read_start``'s replies; ``spec``: the batch's spec, decoded already."""
		(raw_spec, cancelled, user), _, raw_chunk, *_ = replies
		if raw_spec is None:
			spec = None
		elif spec is None:
			spec = pickle.loads(raw_spec)
		return cls(
			spec=spec,
			cancelled=bool(cancelled),
			user=user.decode() if user else None,
			chunk=pickle.loads(raw_chunk) if raw_chunk is not None else None,
		)


# What jobkit's worker read and decoded for a chunk's run in the round trip that started it, before
# the fork: the work-horse inherits it and starts with no round trip of its own. Decoding there
# costs less too: the objects a work-horse creates land on memory pages it must first copy.
_read_by_worker: dict[str, ChunkStart] = {}
# The last spec the worker decoded (its pickle, and itself): a batch's chunks share one.
_last_spec: tuple[bytes, BatchSpec] | None = None


def start_reads(envelope: Envelope):
	"""For a chunk segment's job: ``read(pipe)``, queuing what ``run_chunk`` reads as it starts (for
	jobkit's worker to send as it starts the job, see ``worker.starting``); None for any other job."""
	if envelope.method not in RUN_CHUNK_PATHS:
		return None
	kwargs = envelope.kwargs
	return partial(
		_read_start, batch_keys=keys.batch(envelope.namespace, kwargs["batch_id"]), index=kwargs["index"]
	)


def keep_start_reads(rq_id: str, replies: list) -> None:
	"""Keep what jobkit's worker read for the chunk run ``rq_id``, decoded for its work-horse."""
	global _last_spec
	_read_by_worker.clear()
	raw_spec = replies[0][0]
	spec = _last_spec[1] if _last_spec is not None and _last_spec[0] == raw_spec else None
	try:
		start = ChunkStart.of(replies, spec)
	except Exception:  # e.g. an item whose class is gone: the run fails on it, and says so
		return
	if start.spec is not None:
		_last_spec = (raw_spec, start.spec)
	_read_by_worker[rq_id] = start


def _read_start(pipe, *, batch_keys: dict, index: int) -> None:
	"""The batch's spec, cancel flag and user, its first start, and the chunk's items (3 replies)."""
	pipe.hmget(batch_keys["state"], ["spec", "cancelled", "user"])
	pipe.hsetnx(batch_keys["state"], "started_at", repr(time.time()))
	pipe.hget(batch_keys["chunks"], str(index))


def run_chunk(batch_id: str, index: int, start: int = 0) -> dict:
	"""The job of one chunk segment: run the method over its items, then count the segment."""
	host = context.get_host()
	connection = host.connection
	batch_keys = keys.batch(host.namespace, batch_id)
	job = context.current_job()
	in_flight = own_in_flight(job.rq_id if job else None)
	read = _read_by_worker.pop(job.rq_id, None) if job else None
	if read is None:  # not read by jobkit's worker: one round trip for what a chunk needs to start
		pipe = connection.pipeline(transaction=False)
		_read_start(pipe, batch_keys=batch_keys, index=index)
		if in_flight is not None and in_flight.joined:
			in_flight.join(pipe)
		read = ChunkStart.of(pipe.execute())
	spec, user, chunk = read.spec, read.user, read.chunk
	if spec is None:
		read_state(host, batch_id)  # BatchNotFound, with its explanation
	if read.cancelled:
		return end_segment(host, batch_id, spec, index, start, 0, [], complete=True, in_flight=in_flight)
	items = chunk["items"] if "items" in chunk else spec.query.load(chunk["after"], chunk["upto"])
	items = items[start:] if start else items
	timeout = spec.timeout
	deadline = time.monotonic() + timeout * DEADLINE_SHARE if timeout and job else None
	chunk_context = ChunkContext(batch_id, index, start, items, deadline, host)
	method = methods.resolve(spec.method)
	failures: list[dict] = []
	processed = 0
	_current.append(chunk_context)
	try:
		if spec.per_item:
			for position, item in enumerate(items):
				if chunk_context.cancelled:
					break
				if position and chunk_context.near_deadline():
					chunk_context.checkpoint_at = position
					break
				try:
					with host.item_scope():
						method(item, **spec.kwargs)
				except Exception as e:
					failures.append(_failure(item, e, index))
				if spec.commit == "item":
					host.commit()
				processed = position + 1
		else:
			method(items, **spec.kwargs)
			processed = chunk_context.checkpoint_at or len(items)
	finally:
		_current.pop()
	host.commit()
	continued = chunk_context.checkpoint_at is not None and processed < len(items)
	# The rest of a chunk that checkpointed: written and queued by the script that counts this
	# segment's end, so that a run of this segment whose end was never counted leaves none behind.
	continuation = chunk_job(host, batch_id, spec, index, start + processed, user) if continued else None
	return end_segment(
		host,
		batch_id,
		spec,
		index,
		start,
		processed,
		failures,
		complete=not continued,
		in_flight=in_flight,
		continuation=continuation,
	)


def chunk_failed(rq_job, connection, exc_type, exc, traceback) -> None:
	"""The chunk's final failure (its retry policy spent, or its worker lost): all its items failed."""
	host = context.get_host()
	envelope = Envelope.read(host.envelope_of(rq_job)) if rq_job is not None else None
	job_kwargs = envelope.kwargs if envelope is not None else None
	if not job_kwargs:
		return
	batch_id, index, start = job_kwargs["batch_id"], job_kwargs["index"], job_kwargs.get("start", 0)
	spec = load_spec(read_state(host, batch_id))
	batch_keys = keys.batch(host.namespace, batch_id)
	chunk = pickle.loads(host.connection.hget(batch_keys["chunks"], str(index)))
	if "items" in chunk:
		items = chunk["items"][start:]
	else:
		try:
			items = spec.query.load(chunk["after"], chunk["upto"])[start:]
		except Exception:  # the store itself may be what failed: count the planned items
			items = [f"<item {n} of chunk {index}>" for n in range(start, chunk["count"])]
	error = f"{exc_type.__name__}: {exc}"
	failures = [{"item": _jsonable(item), "error": error[:1000], "chunk": index} for item in items]
	# In the failed run's own process (not the reaper's), its in-flight entry goes with the count.
	in_flight = own_in_flight(rq_job.id)
	end_segment(host, batch_id, spec, index, start, 0, failures, complete=True, in_flight=in_flight)


def own_in_flight(rq_id: str | None) -> inflight.InFlight | None:
	"""This process's in-flight entry, when it is that of the run ``rq_id``."""
	entry = inflight.current()
	return entry if entry is not None and rq_id is not None and entry.rq_id == rq_id else None


def _failure(item, exc: Exception, chunk: int) -> dict:
	return {"item": _jsonable(item), "error": f"{type(exc).__name__}: {exc}"[:1000], "chunk": chunk}


def _jsonable(item):
	try:
		json.dumps(item)
		return item
	except (TypeError, ValueError):
		return repr(item)
