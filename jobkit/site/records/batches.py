"""Jobkit Batch records: a site's view of its batches, written by jobkit as they run.

A record is named by its batch's id (``jobkit.batch(...).id``).

The batch itself lives in Redis (``jobkit.engine.batches``); its record follows it. It is
inserted when the batch is created, in the caller's transaction, then updated by the chunks'
workers at most once a second (``batches.ending.NOTIFY_SECONDS``) and once more when the batch
ends, with its failed items. A chunk's job updates it after the chunk's own commit and commits
at once, holding the row only for that update; an update that arrives late (read from Redis
before a newer one was written) is dropped, so the record never goes backwards.

People see their own batches; System Managers see all (``record_access``). Cancel and Retry failed items
(``actions``) act on the batch in Redis.
"""

import frappe

from jobkit.engine import batches, context
from jobkit.site import retention
from jobkit.site.compat import is_transient
from jobkit.site.text import as_text, site_time

DOCTYPE = "Jobkit Batch"
ITEM_DOCTYPE = "Jobkit Batch Failed Item"
# Failed items listed on a record; the batch in Redis keeps all of them (Retry failed items).
SHOWN_FAILED_ITEMS = 100
# Longest text of one failed item shown on a record.
MAX_ITEM_TEXT = 1000
# Tries of an update from a worker that meets a deadlock or lock wait with another worker's.
SYNC_TRIES = 3


def sync(host, state: dict) -> None:
	"""Write the batch's state to its record (the Frappe host's ``batch_changed``)."""
	if not _in_chunk_job():
		# Creating, cancelling, or ending a batch from a request or another job: the change joins
		# that transaction, which its owner commits (or rolls back: the workers write it again).
		if frappe.db.exists(DOCTYPE, state["id"]):
			_update(host, state)
		else:
			_insert(host, state)
		return
	for attempt in range(1, SYNC_TRIES + 1):
		try:
			_update(host, state)
			frappe.db.commit()
			return
		except Exception as e:
			frappe.db.rollback()  # the chunk's work was committed before: only this update is lost
			if attempt == SYNC_TRIES or not is_transient(e):  # a deadlock or a lock wait
				frappe.log_error(
					title=f"jobkit: could not update Jobkit Batch {state['id']}",
					message=frappe.get_traceback(),
				)
				frappe.db.commit()
				return


def _in_chunk_job() -> bool:
	"""Whether this is a batch chunk's job (or the reaper acting for one), its own work committed."""
	job = context.current_job()
	return job is not None and job.method == batches.RUN_CHUNK_PATH


def _update(host, state: dict) -> None:
	current = _locked_progress(state["id"])
	if current is None:
		try:
			_insert(host, state)
			return
		except frappe.DuplicateEntryError:  # another worker inserted it meanwhile
			frappe.db.rollback()
			current = _locked_progress(state["id"])
	if _progress(current) > _progress(state):
		return  # read from Redis before the state already written
	if not state["finished_at"]:
		# Numbers not known yet (the duration) stay as they are: their columns are NOT NULL.
		values = {field: value for field, value in _values(state).items() if value is not None}
		if state["failed"] <= (current.failed or 0):
			frappe.db.set_value(DOCTYPE, state["id"], values)
			return
		# Items failed since the last write: the record shows them while the batch still runs.
		doc = frappe.get_doc(DOCTYPE, state["id"])
		doc.update(values)
		_set_failed_items(host, doc, state)
		doc.flags.ignore_links = True
		doc.save(ignore_permissions=True)
		return
	doc = frappe.get_doc(DOCTYPE, state["id"])
	doc.update(_values(state))
	_set_failed_items(host, doc, state)
	doc.flags.ignore_links = True  # the batch's user or reference may have been deleted since
	doc.save(ignore_permissions=True)


def _locked_progress(name: str):
	"""The record's counts, its row locked until this transaction ends (None: no record yet)."""
	return frappe.db.get_value(
		DOCTYPE, name, ["done", "failed", "chunks_done", "finished_at"], as_dict=True, for_update=True
	)


def _insert(host, state: dict) -> None:
	doc = frappe.get_doc({"doctype": DOCTYPE, "batch_id": state["id"], **_values(state)})
	if state["finished_at"]:
		_set_failed_items(host, doc, state)
	doc.insert(ignore_permissions=True, ignore_links=True)


def _progress(values) -> tuple:
	"""Orders two states of one batch: ended last, then more chunks ended, then more items counted."""
	return (
		1 if values["finished_at"] else 0,
		values["chunks_done"] or 0,
		(values["done"] or 0) + (values["failed"] or 0),
	)


def _values(state: dict) -> dict:
	total, counted = state["total"], state["done"] + state["failed"]
	finished = state["finished_at"]
	reference = (state["reference_doctype"], state["reference_name"])
	if not reference[0] or not frappe.db.exists("DocType", reference[0]):
		reference = (None, None)
	return {
		# As given, as any Data field: the list view escapes it (an escaped title showed as "&amp;"), and
		# Frappe sanitises markup in it on save.
		"title": state["title"],
		"method": state["method"],
		"status": state["status"],
		"user": state["user"] or None,
		"queue": state["queue"],
		"total": total,
		"done": state["done"],
		"failed": state["failed"],
		"chunks": state["chunks"],
		"chunks_done": state["chunks_done"],
		"chunk_size": state["chunk_size"],
		"max_parallel": state["max_parallel"],
		"progress": round(100 * counted / total, 2) if total else (100 if finished else 0),
		"started_at": site_time(state["started_at"]) if state["started_at"] else None,
		"finished_at": site_time(finished) if finished else None,
		"duration": round(finished - (state["started_at"] or state["created_at"]), 3) if finished else None,
		"reference_doctype": reference[0],
		"reference_name": reference[1] or None,  # a name, as the link needs it (the desk escapes it)
		"retry_of": state.get("retry_of") or None,
	}


def _set_failed_items(host, doc, state: dict) -> None:
	"""The first SHOWN_FAILED_ITEMS failed items on the record, and the count of the rest."""
	doc.set("failed_items", _failed_rows(host, state))
	doc.failed_items_not_shown = max(state["failed"] - len(doc.failed_items), 0)


def _failed_rows(host, state: dict) -> list[dict]:
	return [
		{
			"item": as_text(_shown(entry["item"])),
			"error": as_text(str(entry["error"])[:MAX_ITEM_TEXT]),
			"chunk": entry.get("chunk"),
		}
		for entry in batches.failed_items(host, state["id"], SHOWN_FAILED_ITEMS)
	]


def _shown(item) -> str:
	text = item if isinstance(item, str) else frappe.as_json(item, indent=None)
	return text[:MAX_ITEM_TEXT]


def prune(days: int) -> int:
	"""Delete the records of batches left unchanged for ``days`` days (Log Settings sets how many)."""
	return retention.prune(DOCTYPE, days, (ITEM_DOCTYPE,))
