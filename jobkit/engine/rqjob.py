"""The RQ job that carries a jobkit envelope: built the same way for a first run and a retry."""

from jobkit.engine.host import Host


def create(host: Host, envelope: dict, rq_id: str, *, scheduled: bool):
	"""Return (rq_queue, job): the job the host's workers run for ``envelope``, not yet saved."""
	func, call_kwargs = host.job_call(envelope)
	rq_queue = host.rq_queue(envelope["queue"])
	job = rq_queue.create_job(
		func,
		kwargs=call_kwargs,
		timeout=envelope["timeout"],
		job_id=rq_id,
		description=envelope.get("name") or envelope["method"],
		status="scheduled" if scheduled else "queued",
		**host.job_options(),
	)
	return rq_queue, job
