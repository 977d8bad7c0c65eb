"""Taking a job off its queue so that a worker lost in the act does not lose it.

RQ's workers take a job with BLPOP (rq 2.x, listening on one queue: BLMOVE into an intermediate
list, which RQ's clean-up later marks failed). From then until the work-horse records the run,
the job is in no queue and, on rq 1.x, in no registry: a worker killed in between (SIGKILL, the
OOM killer) loses it without a trace. jobkit's workers (``worker``) take jobs through this
module instead:

- ``take``: one script pops the first job of the worker's queues and notes its id in the taken
  set, with an end (``defaults.TAKEN_SECONDS``);
- ``start``: as the worker starts the job, one script removes the note and, for a jobkit job, puts
  the run in flight, where the reaper covers it as any other;
- ``give_back``: a note past its end belongs to a worker lost in between; the reaper puts the job
  back at the front of its queue, unless a work-horse began it.

``start`` and ``give_back`` both remove the note, each in one script, so a job is given back or
run, never both: a worker slower than the note's life finds its job given back and leaves it.

Redis has no blocking pop that also writes elsewhere, so an idle worker waits without taking: on
one queue by moving the queue's head onto itself with ``BLMOVE`` (Redis 6.2+), which returns as
soon as a job is there; on several, by looking again at growing intervals of up to
``MAX_POLL_SECONDS``.
"""

import logging
import time
from functools import cache

import redis

from jobkit.engine import defaults, keys
from jobkit.engine.rqcompat import text
from jobkit.engine.scripts import GIVE_BACK, START, TAKE, execute_with

logger = logging.getLogger("jobkit")

# An idle worker on several queues looks again after this long, doubling up to the maximum: a job
# waits at most that long for an idle worker, which makes at most 1 / MAX_POLL_SECONDS calls a second.
MIN_POLL_SECONDS = 0.005
MAX_POLL_SECONDS = 0.1

# Notes handled per call of ``give_back``; the rest wait for the next call.
GIVE_BACK_LIMIT = 100

# Set on an RQ job object taken through ``take``: its worker must ``start`` it to run it.
_TAKEN_MARK = "_jobkit_taken"


def take(connection, queue_keys: list[str], timeout: float | None) -> tuple[str, str] | None:
	"""The first job of ``queue_keys`` (in order), taken with a note: (queue key, RQ job id).

	As RQ's ``Queue.lpop``: ``timeout`` None returns None at once when every queue is empty;
	otherwise it waits up to ``timeout`` seconds for a job, then raises RQ's ``DequeueTimeout``.
	A paused queue (``pausing``) counts as empty.
	"""
	from rq.exceptions import DequeueTimeout

	ends = None if timeout is None else time.monotonic() + timeout
	pause = MIN_POLL_SECONDS
	while True:
		taken = TAKE(
			connection, [keys.TAKEN, keys.PAUSED, *queue_keys], [repr(time.time() + defaults.TAKEN_SECONDS)]
		)
		if taken:
			queue_key, job_id = map(text, taken)
			return queue_key, job_id
		if ends is None:
			return None
		left = ends - time.monotonic()
		if left <= 0:
			raise DequeueTimeout(timeout, queue_keys)
		# A paused queue holding jobs ({}) would end a blocking wait at once: look again instead.
		pause = _wait_for_a_job(connection, queue_keys, left, pause, can_block=taken != [])


def _wait_for_a_job(
	connection, queue_keys: list[str], seconds: float, pause: float, can_block: bool
) -> float:
	"""Wait up to ``seconds`` for a job on ``queue_keys`` without taking it; return the next pause."""
	from rq.utils import get_version

	if can_block and len(queue_keys) == 1 and get_version(connection) >= (6, 2, 0):
		# The head moves onto the same list's head: nothing changes, and the call returns as soon
		# as the queue has a job.
		connection.blmove(queue_keys[0], queue_keys[0], seconds, "LEFT", "LEFT")
		return pause
	time.sleep(min(pause, seconds))
	return min(pause * 2, MAX_POLL_SECONDS)


def was_taken(rq_job) -> bool:
	"""Whether ``rq_job`` was taken through ``take`` (and must be started through ``start`` to run)."""
	return getattr(rq_job, _TAKEN_MARK, False)


def start(connection, rq_id: str, in_flight: tuple[str, float] | None = None, read=None) -> tuple[bool, list]:
	"""Remove the note of a job this worker took and, with ``in_flight`` (the job's in-flight
	registry and lease end), put its run in flight, in one step: (started, replies). ``started``
	False: the
	job was given back (the note had ended), and the worker must leave it.

	``read(pipe)``: commands sent in the same round trip, whose replies come back; they run whether
	or not the job was given back, so they must be harmless then.
	"""
	keys_, args = [keys.TAKEN], [rq_id]
	if in_flight is not None:
		keys_.append(in_flight[0])
		args.append(repr(in_flight[1]))
	if read is None:
		return bool(START(connection, keys_, args)), []

	def fill(pipe) -> None:
		START.on(pipe, keys_, args)
		read(pipe)

	started, *replies = execute_with(connection, fill, START)
	return bool(started), replies


def give_back(connection, *, now: float | None = None, limit: int = GIVE_BACK_LIMIT) -> list[str]:
	"""Put the jobs whose note ended before ``now`` back at the front of their queues (those still
	queued: a job a work-horse began, or one cancelled or deleted since, stays as it is). Returns
	the RQ ids given back."""
	from rq.job import Job
	from rq.queue import Queue

	now = time.time() if now is None else now
	given_back = GIVE_BACK(
		connection,
		[keys.TAKEN, Queue.redis_queues_keys],
		[repr(now), limit, Job.redis_job_namespace_prefix, Queue.redis_queue_namespace_prefix],
	)
	return [text(rq_id) for rq_id in given_back]


@cache
def queue_class_for(rq_queue_class: type) -> type:
	"""``rq_queue_class`` whose ``dequeue_any`` takes jobs through ``take`` (for a worker's
	``queue_class``: RQ's workers dequeue through it)."""

	class TakingQueue(rq_queue_class):
		@classmethod
		def dequeue_any(
			cls,
			queues,
			timeout,
			connection=None,
			job_class=None,
			serializer=None,
			death_penalty_class=None,
		):
			# As RQ's Queue.dequeue_any (both lines), with the pop replaced by ``take``.
			from rq.exceptions import NoSuchJobError
			from rq.utils import backend_class

			job_class = backend_class(cls, "job_class", override=job_class)
			queue_keys = [queue.key for queue in queues]
			while True:
				taken = take(connection, queue_keys, timeout)
				if taken is None:
					return None
				queue_key, job_id = taken
				queue = cls.from_queue_key(
					queue_key,
					connection=connection,
					job_class=job_class,
					serializer=serializer,
					death_penalty_class=death_penalty_class,
				)
				try:
					job = job_class.fetch(job_id, connection=connection, serializer=serializer)
				except NoSuchJobError:
					connection.zrem(keys.TAKEN, job_id)
					continue  # RQ passes over a job deleted while queued
				except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
					raise  # the note stays: the job is given back once it ends
				except Exception as error:
					# A job RQ cannot load: RQ's own handling applies, as it would without jobkit.
					connection.zrem(keys.TAKEN, job_id)
					error.job_id = job_id
					error.queue = queue
					raise
				setattr(job, _TAKEN_MARK, True)
				return job, queue

	TakingQueue.__name__ = TakingQueue.__qualname__ = f"Taking{rq_queue_class.__name__}"
	return TakingQueue


__all__ = ["give_back", "queue_class_for", "start", "take", "was_taken"]
