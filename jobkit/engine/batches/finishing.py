"""Finishing a batch: its final status, once, then its callbacks with the summary."""

import time

from jobkit.engine import keys, methods
from jobkit.engine.batches.state import (
	CANCELLED,
	COMPLETED,
	COMPLETED_WITH_ERRORS,
	FAILED,
	KEEP_AFTER_END_SECONDS,
	changed,
	failed_items,
	load_spec,
	read_state,
)
from jobkit.engine.host import Host

# Failed items kept in a summary (the batch keeps all of them: failed_items(), retry_failed()).
SUMMARY_FAILED_ITEMS = 100


def end_empty_batch(host: Host, batch_id: str) -> None:
	state_key = keys.batch(host.namespace, batch_id)["state"]
	if host.connection.hsetnx(state_key, "ended_at", repr(time.time())):
		finish(host, batch_id)


def finish(host: Host, batch_id: str) -> dict:
	"""Write the final status and run the batch's callbacks with its summary."""
	connection = host.connection
	batch_keys = keys.batch(host.namespace, batch_id)
	state = read_state(host, batch_id)
	spec = load_spec(state)
	status = final_status(state)
	finished_at = time.time()
	connection.hset(batch_keys["state"], mapping={"status": status})
	summary = {
		"batch": batch_id,
		"title": state["title"],
		"method": state["method"],
		"status": status,
		"total": state["total"],
		"done": state["done"],
		"failed": state["failed"],
		"failed_items": failed_items(host, batch_id, SUMMARY_FAILED_ITEMS),
		"duration": round(finished_at - (state["started_at"] or state["created_at"]), 3),
		"reference_doctype": state["reference_doctype"] or None,
		"reference_name": state["reference_name"] or None,
	}
	# In the process that ended the batch: its last chunk's job, or a cancel with nothing running.
	for name in ("on_complete", "on_success" if status == COMPLETED else "on_failure"):
		callback = getattr(spec, name)
		if callback and (name != "on_failure" or status != CANCELLED):
			_run_callback(host, callback, summary)
	pipe = connection.pipeline(transaction=True)
	pipe.hset(batch_keys["state"], "finished_at", repr(finished_at))
	for key in batch_keys.values():
		pipe.expire(key, KEEP_AFTER_END_SECONDS)
	pipe.execute()
	changed(host, read_state(host, batch_id))
	return summary


def final_status(state: dict) -> str:
	if state["cancelled"]:
		return CANCELLED
	if state["failed"] and not state["done"]:
		return FAILED
	return COMPLETED_WITH_ERRORS if state["failed"] else COMPLETED


def _run_callback(host: Host, callback: str, summary: dict) -> None:
	try:
		methods.resolve(callback)(summary)
		host.commit()
	except Exception as e:
		host.rollback()
		host.log_error(f"jobkit: batch callback {callback} raised {type(e).__name__}", str(e))
