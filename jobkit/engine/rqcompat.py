"""The differences between the two RQ lines Frappe pins (1.15 for v15, 2.x for v16) that jobkit meets."""

try:  # rq 1.x stamps naive UTC datetimes, rq 2.x aware ones; write what this RQ writes.
	from rq.utils import utcnow as rq_now
except ImportError:
	from rq.utils import now as rq_now

__all__ = ["rq_now"]
