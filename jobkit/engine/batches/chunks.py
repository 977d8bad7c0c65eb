"""A chunk's jobs: one jobkit job per segment of a chunk (the chunk, or the rest of it after a
checkpoint), each with the batch's queue, timeout, user and chunk retry policy."""

from jobkit.engine import rqjob
from jobkit.engine.batches.state import CHUNK_FAILED_PATH, RUN_CHUNK_PATH
from jobkit.engine.envelope import JOINS_IN_FLIGHT, Envelope
from jobkit.engine.host import Host
from jobkit.engine.rqcompat import rq_now


def chunk_job(host: Host, batch_id: str, spec, index: int, start: int, user, *, parked: bool = False):
	"""The RQ job (not yet saved) of one segment of a chunk, queued (its id not yet pushed to its
	queue); ``parked``: left deferred, for ``batch_end.lua`` to queue later."""
	job_id = segment_job_id(batch_id, index, start)
	envelope = Envelope.new(
		job_id=job_id,
		method=RUN_CHUNK_PATH,
		kwargs=segment_kwargs(batch_id, index, start),
		namespace=host.namespace,
		queue=spec.queue,
		timeout=spec.timeout,
		user=user or None,
		lease=host.lease_seconds,
		callbacks={"on_failure": CHUNK_FAILED_PATH},
		name=segment_job_name(spec, batch_id, index),
		retry=spec.retry.to_envelope() if spec.retry else None,
	)
	envelope[JOINS_IN_FLIGHT] = True
	_, job = rqjob.create(host, envelope, host.rq_job_id(job_id), status="deferred" if parked else None)
	if not parked:
		job.enqueued_at = rq_now()
	return job


def segment_job_id(batch_id: str, index: int, start: int) -> str:
	return f"batch::{batch_id}::{index}::{start}"


def segment_job_name(spec, batch_id: str, index: int) -> str:
	return f"{spec.method} (batch {batch_id[:8]}, chunk {index})"


def segment_kwargs(batch_id: str, index: int, start: int) -> dict:
	"""What ``run_chunk`` is called with for one segment."""
	return {"batch_id": batch_id, "index": index, "start": start}
