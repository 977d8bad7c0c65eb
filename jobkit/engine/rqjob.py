"""The RQ job that carries a jobkit envelope: built the same way for a first run and a retry."""

from jobkit.engine.host import Host
from jobkit.engine.rqcompat import rq_now


def create(host: Host, envelope: dict, rq_id: str, *, scheduled: bool = False, status: str | None = None):
	"""Return (rq_queue, job): the job the host's workers run for ``envelope``, not yet saved.

	``status`` overrides the one it starts with ("queued", or "scheduled" when ``scheduled``).
	"""
	func, call_kwargs = host.job_call(envelope)
	rq_queue = host.rq_queue(envelope["queue"])
	job = rq_queue.create_job(
		func,
		kwargs=call_kwargs,
		timeout=envelope["timeout"],
		job_id=rq_id,
		description=envelope.get("name") or envelope["method"],
		status=status or ("scheduled" if scheduled else "queued"),
		**host.job_options(),
	)
	return rq_queue, job


def queue_saved(pipe, rq_queue, job_id: str) -> None:
	"""Queue a job already saved, through ``pipe`` (as ``batch_end.lua`` does for a parked chunk)."""
	from rq.job import Job
	from rq.utils import utcformat

	pipe.hset(Job.key_for(job_id), mapping={"status": "queued", "enqueued_at": utcformat(rq_now())})
	pipe.rpush(rq_queue.key, job_id)
	pipe.sadd(rq_queue.redis_queues_keys, rq_queue.key)
