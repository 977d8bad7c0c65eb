"""The RQ job that carries a jobkit envelope: built the same way for a first run and a retry, and
written in one round trip (``push``, ``save_scheduled``; a unique job's: ``unique.claim_and_enqueue``)."""

import types
import zlib
from functools import cache

from rq import job as rq_job

from jobkit.engine.envelope import Envelope
from jobkit.engine.host import Host
from jobkit.engine.rqcompat import rq_now
from jobkit.engine.scripts import PUSH

# A job's data (its pickled call) up to this size is written as it is, where RQ's to_dict writes it
# zlib-compressed: each compression sets up a zlib stream (about 256 kB of state, allocated and
# freed per call, which glibc gives back to the system at once when it tops the heap: then every
# call faults it in again), 2 to 50 us per enqueue by machine, for a few hundred bytes of Redis
# memory. RQ reads both (Job.restore keeps the stored bytes when they are not a zlib stream).
PLAIN_DATA_BYTES = 1024


def create(host: Host, envelope: Envelope, rq_id: str, *, scheduled: bool = False, status: str | None = None):
	"""Return (rq_queue, job): the job the host's workers run for ``envelope``, not yet saved.

	``status`` overrides the one it starts with ("queued", or "scheduled" when ``scheduled``).
	"""
	func, call_kwargs = host.job_call(envelope.wire())
	rq_queue = host.rq_queue(envelope.queue)
	job = rq_queue.create_job(
		func,
		kwargs=call_kwargs,
		timeout=envelope.timeout,
		job_id=rq_id,
		description=envelope.description,
		status=status or ("scheduled" if scheduled else "queued"),
		**host.job_options(),
	)
	return rq_queue, job


def saved_hash(job, rq_queue, *, scheduled: bool = False) -> dict:
	"""The job's hash as RQ saves it once queued (or scheduled), for a write of jobkit's own that
	goes with what the job goes with (its queue, its unique key)."""
	# What RQ sets before it saves a job (Queue._enqueue_job, or create_job for a scheduled one).
	job.origin = rq_queue.name
	job.enqueued_at = rq_now()
	job._status = "scheduled" if scheduled else "queued"
	if type(job).to_dict is not rq_job.Job.to_dict:  # a job class of the host's own: its own hash
		return job.to_dict()
	return _rq_to_dict()(job)


class _DataAsItIs:
	"""The ``zlib`` RQ's to_dict sees in ``_rq_to_dict``: data up to PLAIN_DATA_BYTES as it is, unless
	it could be read as a zlib stream (its first byte names a deflate stream, 8 in the low bits); a
	pickle starts with 0x80 and JSON with '[' or '{', which cannot."""

	error = zlib.error
	decompress = staticmethod(zlib.decompress)

	@staticmethod
	def compress(data: bytes, *args, **kwargs) -> bytes:
		if len(data) <= PLAIN_DATA_BYTES and data[:1] and data[0] & 0x0F != 8:
			return data
		return zlib.compress(data, *args, **kwargs)


@cache
def _rq_to_dict():
	"""RQ's own Job.to_dict, whatever the RQ version, run with ``_DataAsItIs`` for its ``zlib``."""
	to_dict = rq_job.Job.to_dict
	copy = types.FunctionType(
		to_dict.__code__,
		{**vars(rq_job), "zlib": _DataAsItIs},
		to_dict.__name__,
		to_dict.__defaults__,
		to_dict.__closure__,
	)
	copy.__kwdefaults__ = to_dict.__kwdefaults__
	return copy


def packed(job, rq_queue, *arguments, scheduled: bool = False, extra: dict | None = None) -> bytes:
	"""A script's ``arguments`` and then the job's hash, in the one argument the scripts that write a
	job take (``lua/packed.lua``): each value as a MessagePack string (str 32), without the hash's
	empty fields (RQ reads an empty field and an absent one alike, on rq 1.15 and 2.x). redis-py
	packs each argument of a call in Python: measured in client instructions per enqueue, 590 000
	for RQ's MULTI of the whole hash, 300 000 for a script given the non-empty fields as arguments,
	210 000 for one argument. ``extra``: fields of jobkit's own for the hash (a gated job's gates)."""
	values = list(arguments)
	for name, value in saved_hash(job, rq_queue, scheduled=scheduled).items():
		if value != "":
			values += (name, value)
	for name, value in (extra or {}).items():
		values += (name, value)
	parts = []
	for value in values:
		data = value if isinstance(value, bytes) else str(value).encode()
		parts += (b"\xdb", len(data).to_bytes(4, "big"), data)
	return b"".join(parts)


def push(connection, rq_queue, job, *, at_front: bool = False) -> None:
	"""Write ``job`` and queue it in one script call: what RQ's ``enqueue_job`` writes for a job with
	no dependencies (one round trip on rq 1.x, two on 2.x, and more work for the client on both)."""
	PUSH(
		connection,
		[job.key, rq_queue.key, rq_queue.redis_queues_keys],
		[packed(job, rq_queue, job.id, "front" if at_front else "back")],
	)


def save_scheduled(connection, rq_queue, job, due: float) -> None:
	"""Write ``job`` and its entry in RQ's scheduled registry (due at Unix time ``due``) in one
	transaction.

	Not ``Queue.schedule_job``: RQ's ``ScheduledJobRegistry.schedule`` ignores the pipeline it is
	given (rq 1.15 and 2.x), so the entry is written before the job, and a promoter that runs in
	between finds an id with no job and drops it: the job is lost.
	"""
	from rq.registry import ScheduledJobRegistry

	pipe = connection.pipeline(transaction=True)
	pipe.sadd(rq_queue.redis_queues_keys, rq_queue.key)
	job.save(pipeline=pipe)
	pipe.zadd(ScheduledJobRegistry(queue=rq_queue).key, {job.id: due})
	pipe.execute()
