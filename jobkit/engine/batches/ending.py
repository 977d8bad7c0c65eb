"""A segment's end: counted once, in one script call (``batch_end.lua``) that also queues the next
pending chunk in its place, writes a checkpointed chunk's continuation, and says whether this end
was the batch's last; the process that ends the last one finishes the batch."""

import json
import time

from rq.job import Job

from jobkit.engine import keys
from jobkit.engine.batches.finishing import finish
from jobkit.engine.batches.state import changed, read_state
from jobkit.engine.rqcompat import now_stamp
from jobkit.engine.scripts import BATCH_END

# At most one notice of a batch's progress to the host (its record on a site) per this many seconds.
NOTIFY_SECONDS = 1.0


def end_segment(
	host, batch_id, spec, index, start, processed, failures, *, complete, in_flight=None, continuation=None
) -> dict:
	"""Count the segment (once), queue the next pending chunk in its place, finish a batch it ended.

	``in_flight``: the entry of the run that ends the segment, when this process is that run.
	``continuation``: the RQ job (not saved) of the segment that continues the chunk (``complete``
	False), written and queued with the count.
	"""
	connection = host.connection
	batch_keys = keys.batch(host.namespace, batch_id)
	rq_queue = host.rq_queue(spec.queue)
	succeeded = processed - len(failures)
	# The run's in-flight entry goes with its counted end, except for the run that ends the batch:
	# it stays in flight until the batch is finished, so a death while finishing is reaped.
	counted, _, last, notify = BATCH_END(
		connection,
		[
			batch_keys["state"],
			batch_keys["ended"],
			batch_keys["pending"],
			batch_keys["failures"],
			rq_queue.key,
			rq_queue.redis_queues_keys,
			in_flight.key if in_flight is not None else keys.in_flight(host.namespace),
		],
		[
			f"{index}:{start}",
			succeeded,
			len(failures),
			"1" if complete else "0",
			repr(time.time()),
			NOTIFY_SECONDS,
			Job.redis_job_namespace_prefix,
			now_stamp(),
			in_flight.rq_id if in_flight is not None else "",
			*_continuation_args(continuation),
			*(json.dumps(entry, default=str) for entry in failures),
		],
	)
	if in_flight is not None and counted and not last:
		in_flight.left()
	if last or (not counted and _finish_pending(connection, batch_keys["state"])):
		finish(host, batch_id)
	elif notify:
		changed(host, read_state(host, batch_id))
	return {"batch": batch_id, "chunk": index, "start": start, "done": succeeded, "failed": len(failures)}


def _continuation_args(continuation) -> list:
	"""ARGV[10…] of ``batch_end.lua``: the continuation's RQ id, and its hash as field, value pairs."""
	if continuation is None:
		return ["", 0]
	fields = [item for pair in continuation.to_dict().items() for item in pair]
	return [continuation.id, len(fields), *fields]


def _finish_pending(connection, state_key: str) -> bool:
	"""The batch ended but its finish did not complete (the process finishing it died)."""
	ended, finished = connection.hmget(state_key, ["ended_at", "finished_at"])
	return ended is not None and finished is None
