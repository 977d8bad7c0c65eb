"""``jobkit.health.check()``: the job health report of the current host (see ``jobkit.engine.health``)."""

from jobkit.engine.context import get_host
from jobkit.engine.health import CRITICAL, OK, WARNING, Finding, QueueHealth, RedisHealth, Report, Thresholds
from jobkit.engine.health import collect as _collect

__all__ = [
	"CRITICAL",
	"OK",
	"WARNING",
	"Finding",
	"QueueHealth",
	"RedisHealth",
	"Report",
	"Thresholds",
	"check",
]


def check(thresholds: Thresholds | None = None) -> Report:
	"""Queues (pending, oldest wait, workers busy/idle/stale, stuck and failed jobs, overdue delayed
	jobs), unique keys whose job is gone, and Redis (round trip, memory, eviction policy), with a
	verdict (OK / Warning / Critical) and the findings behind it. Its cost does not grow with the
	length of the queues."""
	return _collect(get_host(), thresholds)
