"""The differences between the two RQ lines Frappe pins (1.15 for v15, 2.x for v16) that jobkit meets."""

from datetime import timezone

try:  # rq 1.x stamps naive UTC datetimes, rq 2.x aware ones; write what this RQ writes.
	from rq.utils import utcnow as rq_now
except ImportError:
	from rq.utils import now as rq_now


def now_stamp() -> str:
	"""Now, as RQ writes a job's ``enqueued_at`` (for a script that queues a job itself)."""
	from rq.utils import utcformat

	return utcformat(rq_now())


def started_registry_job_id(entry: str) -> str:
	"""The job id of a started-registry entry: rq 2.x stores "<job id>:<execution id>"."""
	from rq.registry import StartedJobRegistry

	parse = getattr(StartedJobRegistry, "parse_job_id", None)
	return parse(entry) if parse is not None else entry


def unix_time(moment) -> float | None:
	"""An RQ datetime (naive UTC on rq 1.x, aware on some 2.x releases) as a Unix time; None for None."""
	if moment is None:
		return None
	return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def job_status(rq_job, refresh: bool = True) -> str | None:
	"""An RQ job's status as text ("queued"): rq 2.x gives a JobStatus enum, whose str() is not."""
	status = rq_job.get_status(refresh=refresh)
	return getattr(status, "value", status)


def text(value) -> str:
	"""A reply of a connection that does not decode responses (RQ's), as text."""
	return value.decode() if isinstance(value, bytes) else value


__all__ = ["job_status", "now_stamp", "rq_now", "started_registry_job_id", "text", "unix_time"]
