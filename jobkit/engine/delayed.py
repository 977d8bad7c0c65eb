"""Delayed jobs: when a job is due, and moving due jobs onto their queues.

A delayed job waits in RQ's own scheduled registry (``rq:scheduled:<queue>``, scored by its due
time, status "scheduled"), so RQ's tools and Frappe's RQ Job list see it. Frappe's workers do not
run RQ's scheduler, so jobkit promotes due jobs itself (``promote_due``): from a per-minute hook,
and with about a second's precision from the optional long-running promoter process. The move
is one Lua step per batch, so promoters on many hosts never push a job twice. The registry is
plain Redis data: with persistence on, delayed jobs outlive worker and Redis restarts.
"""

import logging
import time
from datetime import datetime

from jobkit.engine.errors import InvalidArgument
from jobkit.engine.numbers import is_number
from jobkit.engine.rqcompat import now_stamp, text
from jobkit.engine.scripts import PROMOTE

logger = logging.getLogger("jobkit")

# Most jobs one script call moves; the loop in promote_due goes on until none is due.
PROMOTE_BATCH = 500


def due_timestamp(delay: object, at: object, naive_timezone=None) -> float | None:
	"""Unix time at which a job is due, or None to enqueue it now.

	``at`` may be naive: it is then read in ``naive_timezone`` (Frappe: the system time zone),
	else in this machine's local time, as RQ does.
	"""
	if delay is not None and at is not None:
		raise InvalidArgument("give delay= (seconds from now) or at= (a datetime), not both")
	if delay is not None:
		if not is_number(delay) or delay < 0:
			raise InvalidArgument(f"delay must be a number of seconds, 0 or more, not {delay!r}")
		return time.time() + delay if delay > 0 else None
	if at is not None:
		if not isinstance(at, datetime):
			raise InvalidArgument(f"at must be a datetime, not {type(at).__name__} ({at!r})")
		if at.tzinfo is None:
			at = at.replace(tzinfo=naive_timezone) if naive_timezone else at.astimezone()
		return at.timestamp()
	return None


def promote_due(connection, rq_queues, now: float | None = None) -> int:
	"""Push every due delayed job of ``rq_queues`` onto its queue; return how many moved."""
	from rq.registry import ScheduledJobRegistry

	moved = 0
	for rq_queue in rq_queues:
		registry_key = ScheduledJobRegistry(queue=rq_queue).key
		while True:
			taken, pushed, dropped = PROMOTE(
				connection,
				keys=[registry_key, rq_queue.key, rq_queue.redis_queues_keys],
				args=[
					now if now is not None else time.time(),
					PROMOTE_BATCH,
					"rq:job:",
					now_stamp(),
				],
			)
			moved += pushed
			if dropped:
				logger.warning(
					"jobkit: %s due job(s) of queue %r dropped, their job gone from Redis (deleted, or "
					"evicted: give Redis the memory it needs, with maxmemory-policy noeviction): %s",
					len(dropped),
					rq_queue.name,
					", ".join(map(text, dropped)),
				)
			if taken < PROMOTE_BATCH:
				break
	return moved


def run_now(connection, rq_queue, rq_id: str) -> bool:
	"""Make the delayed job ``rq_id`` due now and promote it; False if it is no longer waiting there.

	Through the same promotion as every due job (its score set to 0, then ``promote_due``), so a
	promoter running at the same moment never pushes it twice."""
	from rq.registry import ScheduledJobRegistry

	if not connection.zadd(ScheduledJobRegistry(queue=rq_queue).key, {rq_id: 0}, xx=True, ch=True):
		return connection.zscore(ScheduledJobRegistry(queue=rq_queue).key, rq_id) == 0
	promote_due(connection, [rq_queue])
	return True


def take_back(connection, rq_queue, rq_id: str) -> bool:
	"""Remove the delayed job ``rq_id`` from its registry before it is promoted; True if this call did.

	The removal is the claim: of a promoter and any number of callers, one alone gets the job."""
	from rq.registry import ScheduledJobRegistry

	return bool(connection.zrem(ScheduledJobRegistry(queue=rq_queue).key, rq_id))
