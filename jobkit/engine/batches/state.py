"""A batch's state in Redis: its statuses, its spec (what it runs), reading it, and telling the host
and its user that it changed. Every other part of a batch builds on this one."""

import json
import pickle
import time
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from jobkit.engine import keys, progress
from jobkit.engine.errors import JobkitError
from jobkit.engine.host import Host
from jobkit.engine.retries import Retry

QUEUED = "Queued"
RUNNING = "Running"
COMPLETED = "Completed"
COMPLETED_WITH_ERRORS = "Completed with errors"
FAILED = "Failed"
CANCELLED = "Cancelled"
STATUSES = (QUEUED, RUNNING, COMPLETED, COMPLETED_WITH_ERRORS, FAILED, CANCELLED)

COMMIT_MODES = ("chunk", "item")
DEFAULT_CHUNK_SIZE = 100
DEFAULT_MAX_PARALLEL = 4
# A chunk is retried when its worker dies or it meets a transient error (a deadlock, a lost
# connection): its items are then run again, so make the method idempotent.
DEFAULT_CHUNK_RETRY = Retry(max_attempts=3, backoff=5, max_backoff=60)
# How long a batch's keys stay in Redis after it ended (its handle, its failed items).
KEEP_AFTER_END_SECONDS = 7 * 24 * 3600
MAX_TITLE_LENGTH = 140

# What RQ calls for a chunk, and its failure callback: stored dotted paths. Runs written before
# the batches package (``jobkit.engine.batch_runner``) still run there, for one release.
RUN_CHUNK_PATH = "jobkit.engine.batches.running.run_chunk"
CHUNK_FAILED_PATH = "jobkit.engine.batches.running.chunk_failed"
RUN_CHUNK_PATHS = (RUN_CHUNK_PATH, "jobkit.engine.batch_runner.run_chunk")


class BatchNotFound(JobkitError):
	"""No batch has this id in this namespace (never created, or expired after it ended)."""


@runtime_checkable
class Query(Protocol):
	"""Items read from a store in key order, without holding them all.

	``keys_after(after, limit)``: up to ``limit`` keys greater than ``after`` (None: from the
	first), in ascending order. ``load(after, upto)``: the items whose key is greater than
	``after`` (None: from the first) and at most ``upto``. Instances are pickled into each chunk.
	"""

	def keys_after(self, after: Any, limit: int) -> list: ...

	def load(self, after: Any, upto: Any) -> list: ...


@dataclass(frozen=True)
class BatchSpec:
	"""What a batch runs, stored once (pickled) in its state."""

	method: str
	kwargs: dict
	queue: str
	timeout: int | None
	retry: Retry
	per_item: bool
	commit: str
	query: Any
	on_complete: str | None
	on_success: str | None
	on_failure: str | None


def read_state(host: Host, batch_id: str) -> dict:
	return parse_state(host, batch_id, host.connection.hgetall(keys.batch(host.namespace, batch_id)["state"]))


def parse_state(host: Host, batch_id: str, raw: dict) -> dict:
	if not raw:
		raise BatchNotFound(
			f"no batch {batch_id!r} in namespace {host.namespace!r}: never created here, or expired "
			f"{KEEP_AFTER_END_SECONDS // 86400} days after it ended"
		)
	state = {key.decode(): value for key, value in raw.items()}
	spec = state.pop("spec")
	out: dict[str, Any] = {name: value.decode() for name, value in state.items()}
	for name in (
		"total",
		"done",
		"failed",
		"chunks",
		"chunks_done",
		"chunks_dropped",
		"chunk_size",
		"max_parallel",
		"written",
		"written_items",
		"owed",
	):
		out[name] = int(out.get(name) or 0)
	for name in (
		"created_at",
		"started_at",
		"ended_at",
		"finished_at",
		"cancelled",
		"notified_at",
		"writing",
	):
		out[name] = float(out[name]) if out.get(name) else None
	out["status"] = out.get("status") or (RUNNING if out["started_at"] else QUEUED)
	out["spec"] = spec
	return out


def changed(host: Host, state: dict) -> None:
	"""Tell the host (a site updates the batch's record) and its user (the batch's progress)."""
	host.batch_changed(state)
	record_progress(host, state)


def load_spec(state: dict) -> BatchSpec:
	return pickle.loads(state["spec"])


def failed_items(host: Host, batch_id: str, limit: int | None = None) -> list[dict]:
	key = keys.batch(host.namespace, batch_id)["failures"]
	return [json.loads(entry) for entry in host.connection.lrange(key, 0, -1 if limit is None else limit - 1)]


# A batch's status, as the status of its progress (jobkit.progress's vocabulary).
PROGRESS_STATUSES = {
	QUEUED: progress.RUNNING,
	RUNNING: progress.RUNNING,
	COMPLETED: progress.DONE,
	COMPLETED_WITH_ERRORS: progress.DONE,
	FAILED: progress.FAILED,
	CANCELLED: progress.CANCELLED,
}


def record_progress(host: Host, batch: dict) -> None:
	"""A batch's aggregate progress, as one more run of its user (``batch:<id>``), kept and published."""
	finished = batch["finished_at"] is not None
	status = PROGRESS_STATUSES[batch["status"]] if finished else progress.RUNNING
	counted, total = batch["done"] + batch["failed"], batch["total"]
	started = batch["started_at"] or batch["created_at"]
	elapsed = max((batch["finished_at"] or time.time()) - started, 1e-9)
	rate = counted / elapsed
	state = {
		"id": f"batch:{batch['id']}",
		"job_id": batch["id"],
		"batch": batch["id"],
		"method": batch["method"],
		"queue": batch["queue"],
		"title": batch["title"],
		"owner": batch["user"] or None,
		"reference_doctype": batch["reference_doctype"] or None,
		"reference_name": batch["reference_name"] or None,
		"status": status,
		"reason": f"{batch['failed']} of {total} items failed" if batch["failed"] else None,
		"stage": batch["status"],
		"done": counted,
		"total": total,
		"percent": round(100.0 * counted / total, 1) if total else (100.0 if finished else 0.0),
		"rate": round(rate, 2),
		"eta": round((total - counted) / rate, 1) if rate > 0 and not finished else None,
		"started_at": started,
		"updated_at": time.time(),
	}
	progress.keep_and_publish(
		host, state, progress.RUNNING_STATE_SECONDS if not finished else host.progress_keep_seconds
	)
