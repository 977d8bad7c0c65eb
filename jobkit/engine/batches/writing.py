"""Writing a batch's chunks: its first chunks run while the rest are written.

Every chunk of a batch has its own RQ job, written when the batch is created. Written all before
any is queued, a large batch would leave the workers waiting (about 0.3 ms a chunk): so one
transaction makes the batch with its first slice of chunks (``make``), and its first chunks run
while the later slices are written (``write_rest``), each made the batch's in one script call
(``batch_write.lua``). A slice's jobs are saved with a short TTL before that call keeps them, so a
writer that dies leaves nothing that any worker sees.

While the batch is written its state says so (``writing``: when its writer must next be heard of).
A chunk that ends with no written chunk waiting to take its place leaves the place owed, and the
next slice pays it (``max_parallel`` holds throughout). A batch cancelled meanwhile drops the
slices written after. A writer that fails gives its batch up; one that dies is given up by the
reaper once it has not been heard of in time (``give_up_stopped_writers``): giving up cancels the
batch, whose chunks never written are counted as dropped.
"""

import time
import traceback

from rq.job import Job

from jobkit.engine import keys
from jobkit.engine.batches.chunks import chunk_job
from jobkit.engine.batches.finishing import finish
from jobkit.engine.batches.state import changed, read_state
from jobkit.engine.host import Host
from jobkit.engine.rqcompat import now_stamp, text
from jobkit.engine.scripts import BATCH_GIVE_UP, BATCH_WRITE, execute_with

# Chunks made the batch's in its first transaction: small, so that its first chunks start at once.
FIRST_SLICE = 10
# Chunks (and their jobs) written per round trip after the first slice.
WRITE_SLICE = 100
# How long a slice's jobs last if the call that keeps them never comes (the writer died).
UNCLAIMED_SECONDS = 3600
# How long a writer may go between two slices before the reaper gives its batch up.
WRITING_SECONDS = 60


def make(
	host: Host, batch_id: str, spec, state: dict, packed_chunks: list, counts: list, released: int
) -> None:
	"""Make the batch with its first slice in one transaction: its state, its first chunks and
	their jobs, the first of them queued (up to ``released``) and the rest pending."""
	connection = host.connection
	batch_keys = keys.batch(host.namespace, batch_id)
	first = min(FIRST_SLICE, len(packed_chunks))
	now = float(state["created_at"])
	state = {**state, "written": first, "written_items": sum(counts[:first])}
	deadline = now + WRITING_SECONDS if first < len(packed_chunks) else None
	if deadline is not None:
		state["writing"] = repr(deadline)
	chunks, jobs = _slice(host, batch_id, spec, state["user"], packed_chunks, released, 0, first)
	rq_queue = host.rq_queue(spec.queue)
	pipe = connection.pipeline(transaction=True)
	pipe.hset(batch_keys["state"], mapping=state)
	if chunks:
		pipe.hset(batch_keys["chunks"], mapping=chunks)
	for job in jobs:
		job.save(pipeline=pipe)
	queued = [job.id for job in jobs[:released]]
	if queued:
		pipe.rpush(rq_queue.key, *queued)
		pipe.sadd(rq_queue.redis_queues_keys, rq_queue.key)
	if jobs[released:]:
		pipe.rpush(batch_keys["pending"], *(job.id for job in jobs[released:]))
	pipe.zadd(keys.batches(host.namespace), {batch_id: now})
	if deadline is not None:
		pipe.zadd(keys.batches_writing(host.namespace), {batch_id: deadline})
	pipe.execute()


def write_rest(
	host: Host, batch_id: str, spec, user: str, packed_chunks: list, counts: list, released: int
) -> None:
	"""Write the chunks after the first slice, a slice at a time, while the first ones run.

	A failure gives the batch up (it is cancelled) before it is raised."""
	try:
		for start in range(min(FIRST_SLICE, len(packed_chunks)), len(packed_chunks), WRITE_SLICE):
			end = min(start + WRITE_SLICE, len(packed_chunks))
			kept, last = _write_slice(host, batch_id, spec, user, packed_chunks, counts, released, start, end)
			if last:  # cancelled meanwhile, and this slice's drop ended it
				finish(host, batch_id)
			if not kept:  # given up by the reaper: this writer was too slow
				return
	except BaseException:
		try:
			give_up(host, batch_id, writer=True)
		except Exception:  # Redis is gone too: the reaper gives it up once its writer is overdue
			host.log_error(
				f"jobkit: could not give up the writing of batch {batch_id}", traceback.format_exc()
			)
		raise


def _slice(host, batch_id, spec, user, packed_chunks, released, start, end) -> tuple[dict, list]:
	"""Chunks ``start`` to ``end``: their records (index -> packed chunk) and their RQ jobs, not yet
	saved (queued up to ``released``, parked after)."""
	chunks = {str(index): packed_chunks[index] for index in range(start, end)}
	jobs = [
		chunk_job(host, batch_id, spec, index, 0, user, parked=index >= released)
		for index in range(start, end)
	]
	return chunks, jobs


def _write_slice(host, batch_id, spec, user, packed_chunks, counts, released, start, end) -> tuple[int, int]:
	batch_keys = keys.batch(host.namespace, batch_id)
	rq_queue = host.rq_queue(spec.queue)
	chunks, jobs = _slice(host, batch_id, spec, user, packed_chunks, released, start, end)
	now = time.time()
	last_slice = end == len(packed_chunks)

	def fill(pipe) -> None:
		pipe.hset(batch_keys["chunks"], mapping=chunks)
		for job in jobs:
			job.save(pipeline=pipe)
			pipe.expire(job.key, UNCLAIMED_SECONDS)
		BATCH_WRITE.on(
			pipe,
			[
				batch_keys["state"],
				batch_keys["pending"],
				rq_queue.key,
				rq_queue.redis_queues_keys,
				keys.batches_writing(host.namespace),
			],
			[
				batch_id,
				repr(now),
				"" if last_slice else repr(now + WRITING_SECONDS),
				Job.redis_job_namespace_prefix,
				now_stamp(),
				max(0, min(end, released) - start),
				sum(counts[start:end]),
				*(job.id for job in jobs),
			],
		)

	kept, last = execute_with(host.connection, fill, BATCH_WRITE)[-1]
	return kept, last


def give_up(host: Host, batch_id: str, *, now: float | None = None, writer: bool = False) -> tuple[int, int]:
	"""Cancel a batch still being written whose writer stopped (``writer``: the writer itself,
	whenever it was last heard of; else only once it is overdue at ``now``). Finishes the batch
	when nothing of it runs. Returns (given_up, last) as ``batch_give_up.lua`` does."""
	batch_keys = keys.batch(host.namespace, batch_id)
	given_up, last = BATCH_GIVE_UP(
		host.connection,
		[batch_keys["state"], batch_keys["pending"], keys.batches_writing(host.namespace)],
		[
			batch_id,
			repr(time.time() if now is None else now),
			Job.redis_job_namespace_prefix,
			"1" if writer else "0",
		],
	)
	if given_up:
		state = read_state(host, batch_id)
		host.log_error(
			f"jobkit: batch {batch_id} ({state['title']}) was cancelled: the process creating it stopped "
			f"after writing {state['written']} of its {state['chunks']} chunks ({state['written_items']} of "
			f"{state['total']} items)",
			"",
		)
		if last:
			finish(host, batch_id)
		else:
			changed(host, state)
	return given_up, last


def give_up_stopped_writers(host: Host, now: float, limit: int) -> list[str]:
	"""Give up the batches of ``host``'s namespace whose writer is overdue at ``now`` (the reaper)."""
	overdue = host.connection.zrangebyscore(keys.batches_writing(host.namespace), "-inf", now, 0, limit)
	given_up = []
	for raw in overdue:
		batch_id = text(raw)
		if give_up(host, batch_id, now=now)[0]:
			given_up.append(batch_id)
	return given_up
