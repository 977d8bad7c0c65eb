"""Creating a batch (plan its chunks, write them, release the first), cancelling one, and retrying a
finished batch's failed items as a new batch; ``BatchHandle`` reads a batch live."""

import pickle
import time
from collections.abc import Iterable
from uuid import uuid4

from rq.job import Job

from jobkit.engine import keys, methods
from jobkit.engine.batches import writing
from jobkit.engine.batches.finishing import end_empty_batch, finish
from jobkit.engine.batches.state import (
	COMMIT_MODES,
	DEFAULT_CHUNK_RETRY,
	DEFAULT_CHUNK_SIZE,
	DEFAULT_MAX_PARALLEL,
	MAX_TITLE_LENGTH,
	BatchSpec,
	Query,
	changed,
	failed_items,
	load_spec,
	read_state,
)
from jobkit.engine.enqueue import resolve_timeout
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.host import Host
from jobkit.engine.numbers import whole_number
from jobkit.engine.payload import PICKLE_ERRORS
from jobkit.engine.retries import Retry
from jobkit.engine.scripts import BATCH_CANCEL

# What jobkit.batch takes as the batch's options (its other keyword arguments go to the method).
BATCH_OPTIONS = (
	"chunk_size", "queue", "timeout", "max_parallel", "retry", "per_item", "commit", "on_complete",
	"on_success", "on_failure", "title", "reference_doctype", "reference_name",
)  # fmt: skip


class BatchHandle:
	"""A batch's id, and its state read live from Redis."""

	def __init__(self, host: Host, batch_id: str):
		self._host = host
		self.id = batch_id

	def __repr__(self) -> str:
		return f"<BatchHandle {self.id!r}>"

	def state(self) -> dict:
		return read_state(self._host, self.id)

	@property
	def status(self) -> str:
		return self.state()["status"]

	@property
	def counts(self) -> dict:
		state = self.state()
		return {name: state[name] for name in ("total", "done", "failed", "chunks", "chunks_done")}

	def failed_items(self, limit: int | None = None) -> list[dict]:
		return failed_items(self._host, self.id, limit)

	def cancel(self) -> bool:
		return cancel(self._host, self.id)

	def retry_failed(self, **options) -> "BatchHandle":
		return retry_failed(self._host, self.id, **options)


def create(
	host: Host,
	method,
	*,
	items: Iterable | None = None,
	query: Query | None = None,
	chunk_size: int = DEFAULT_CHUNK_SIZE,
	queue: str = "default",
	timeout: int | None = None,
	max_parallel: int | None = DEFAULT_MAX_PARALLEL,
	retry=None,
	per_item: bool = False,
	commit: str = "chunk",
	on_complete=None,
	on_success=None,
	on_failure=None,
	title: str | None = None,
	reference_doctype: str | None = None,
	reference_name: str | None = None,
	user=None,
	retry_of: str | None = None,
	kwargs: dict,
) -> BatchHandle:
	method_path = methods.dotted_path(method, check_import=host.check_methods)
	callbacks = {
		name: methods.dotted_path(callback, check_import=host.check_methods) if callback is not None else None
		for name, callback in (
			("on_complete", on_complete),
			("on_success", on_success),
			("on_failure", on_failure),
		)
	}
	if (items is None) == (query is None):
		raise InvalidArgument("give items= (a list) or query= (a jobkit query), not both and not neither")
	chunk_size = whole_number("chunk_size", chunk_size)
	if max_parallel is not None:
		max_parallel = whole_number("max_parallel", max_parallel)
	if commit not in COMMIT_MODES:
		raise InvalidArgument(
			f"commit={commit!r}: use 'chunk' (after each chunk) or 'item' (after each item)"
		)
	if commit == "item" and not per_item:
		raise InvalidArgument("commit='item' needs per_item=True: the method is then called once per item")
	if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH):
		raise InvalidArgument(f"title must be text of at most {MAX_TITLE_LENGTH} characters")
	if (reference_doctype is None) != (reference_name is None):
		raise InvalidArgument("give reference_doctype and reference_name together, or neither")
	timeout = resolve_timeout(host, queue, timeout)
	policy = Retry.coerce(retry) or DEFAULT_CHUNK_RETRY
	if query is not None and not isinstance(query, Query):
		raise InvalidArgument(
			f"query={query!r} is not a jobkit query: it needs keys_after(after, limit) and load(after, upto)"
			" (on a site: jobkit.DocTypeQuery('ToDo', filters={...}))"
		)
	spec = BatchSpec(method_path, kwargs, queue, timeout, policy, bool(per_item), commit, query, **callbacks)
	packed_spec = _pickled("the batch's kwargs or query", spec)
	host.check_capacity(queue)  # the batch is refused whole, before anything is written

	batch_id = uuid4().hex
	chunks, total = _plan(items, query, chunk_size)
	now = time.time()
	state = {
		"id": batch_id,
		"method": method_path,
		"title": title or method_path,
		"queue": queue,
		"user": user if user is not None else host.current_user() or "",
		"reference_doctype": reference_doctype or "",
		"reference_name": reference_name or "",
		"chunk_size": chunk_size,
		"max_parallel": max_parallel or 0,
		"total": total,
		"done": 0,
		"failed": 0,
		"chunks": len(chunks),
		"chunks_done": 0,
		"chunks_dropped": 0,
		"created_at": repr(now),
		"retry_of": retry_of or "",
		"spec": packed_spec,
	}
	packed_chunks = [_pickled(f"the items of chunk {index}", chunk) for index, chunk in enumerate(chunks)]
	counts = [len(chunk["items"]) if "items" in chunk else chunk["count"] for chunk in chunks]
	released = min(max_parallel or len(chunks), len(chunks))
	writing.make(host, batch_id, spec, state, packed_chunks, counts, released)
	changed(host, read_state(host, batch_id))
	if not chunks:
		end_empty_batch(host, batch_id)
	writing.write_rest(host, batch_id, spec, state["user"], packed_chunks, counts, released)
	return BatchHandle(host, batch_id)


def _plan(items: Iterable | None, query: Query | None, chunk_size: int) -> tuple[list[dict], int]:
	"""The chunk specs, and the number of items: lists for items=, key ranges for query=."""
	chunks: list[dict] = []
	if items is not None:
		if isinstance(items, str | bytes | dict) or not isinstance(items, Iterable):
			raise InvalidArgument(f"items must be a list of items, not {type(items).__name__}")
		listed = list(items)
		for start in range(0, len(listed), chunk_size):
			chunks.append({"items": listed[start : start + chunk_size]})
		return chunks, len(listed)
	total, after = 0, None
	while True:
		page = query.keys_after(after, chunk_size)
		if not page:
			break
		chunks.append({"after": after, "upto": page[-1], "count": len(page)})
		total += len(page)
		after = page[-1]
		if len(page) < chunk_size:
			break
	return chunks, total


def cancel(host: Host, batch_id: str) -> bool:
	"""Cancel a batch; False when it had already ended. Running chunks stop at their next item."""
	read_state(host, batch_id)  # BatchNotFound for an unknown id
	batch_keys = keys.batch(host.namespace, batch_id)
	cancelled, last = BATCH_CANCEL(
		host.connection,
		[batch_keys["state"], batch_keys["pending"]],
		[repr(time.time()), Job.redis_job_namespace_prefix],
	)
	if last:
		finish(host, batch_id)
	elif cancelled:
		changed(host, read_state(host, batch_id))
	return bool(cancelled)


def retry_failed(host: Host, batch_id: str, **options) -> BatchHandle:
	"""A new batch over exactly the failed items of ``batch_id``, with its method and settings."""
	state = read_state(host, batch_id)
	if state["ended_at"] is None:
		raise InvalidArgument(f"batch {batch_id} is still running: retry its failed items once it has ended")
	spec = load_spec(state)
	items = [entry["item"] for entry in failed_items(host, batch_id)]
	if not items:
		raise InvalidArgument(f"batch {batch_id} has no failed items to retry")
	settings = {
		"queue": spec.queue,
		"timeout": spec.timeout,
		"retry": spec.retry,
		"per_item": spec.per_item,
		"commit": spec.commit,
		"chunk_size": state["chunk_size"],
		"max_parallel": state["max_parallel"] or None,
		"on_complete": spec.on_complete,
		"on_success": spec.on_success,
		"on_failure": spec.on_failure,
		"title": f"Retry of {state['title']}"[:MAX_TITLE_LENGTH],
		"reference_doctype": state["reference_doctype"] or None,
		"reference_name": state["reference_name"] or None,
		"user": state["user"] or None,
		"retry_of": batch_id,
		**options,
	}
	return create(host, spec.method, items=items, kwargs=spec.kwargs, **settings)


def _pickled(what: str, value: object) -> bytes:
	try:
		return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
	except PICKLE_ERRORS as e:
		raise InvalidArgument(
			f"{what} cannot be serialised ({type(e).__name__}: {e}): pass plain data (names, ids, numbers)"
		) from e
