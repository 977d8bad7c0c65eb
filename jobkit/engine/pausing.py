"""Pausing a queue: jobkit's workers start no job from it until it is resumed.

A paused queue still takes jobs (enqueues go on) and its running jobs finish; what stops is the
take (``taking.take`` passes over it, in the same script that pops, so no job starts from a queue
once its pause is written). The pause is a Redis set of queue keys (``keys.PAUSED``), so it holds
for every jobkit worker on every host, and across their restarts, until someone resumes the queue.

Only workers that take through jobkit honour it: a stock RQ worker (Frappe's `bench worker`)
pops on, and ``unaware_workers`` names the live ones on a queue so that whoever pauses it knows.
A jobkit worker says it takes through jobkit in its RQ worker hash (``TAKES_FIELD``).
"""

from jobkit.engine import keys
from jobkit.engine.rqcompat import text

# The field a jobkit worker adds to its RQ worker hash: it takes through ``taking`` and honours
# pauses. RQ reads the fields it knows and leaves the others.
TAKES_FIELD = "jobkit_takes"


def pause(connection, queue_key: str) -> bool:
	"""Pause the queue ``queue_key`` (an RQ queue key); False if it was paused already."""
	return bool(connection.sadd(keys.PAUSED, queue_key))


def resume(connection, queue_key: str) -> bool:
	"""Resume the queue ``queue_key``; False if it was not paused."""
	return bool(connection.srem(keys.PAUSED, queue_key))


def paused(connection) -> set[str]:
	"""The keys of the paused queues."""
	return {text(key) for key in connection.smembers(keys.PAUSED)}


def mark_worker(connection, worker_key: str) -> None:
	"""Note in a worker's RQ hash that it takes through jobkit (it honours pauses)."""
	connection.hset(worker_key, TAKES_FIELD, "1")


def unaware_workers(rq_queue) -> list[str]:
	"""The names of the live workers on ``rq_queue`` that do not honour a pause (not jobkit's)."""
	from rq.worker import Worker

	return sorted(ignoring(rq_queue.connection, Worker.all(queue=rq_queue)))


def ignoring(connection, workers: list) -> list[str]:
	"""The names of those of ``workers`` (RQ workers) that do not honour a pause, in their order."""
	if not workers:
		return []
	pipe = connection.pipeline(transaction=False)
	for worker in workers:
		pipe.hexists(worker.key, TAKES_FIELD)
	return [worker.name for worker, takes in zip(workers, pipe.execute(), strict=True) if not takes]
