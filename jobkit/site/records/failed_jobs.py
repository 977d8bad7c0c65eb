"""Jobkit Failed Job records: the Frappe host's dead letters (retried or discarded by ``actions``).

A record shows the job (kwargs with secret-looking values redacted), every attempt's error and the
last traceback. The job itself, as first enqueued, is kept encrypted with the site's encryption
key in a hidden field: retrying puts back exactly that job (method, queue, arguments, user,
unique key, retry policy), never anything a caller sends, and a record whose stored job was
tampered with fails to decrypt rather than run.
"""

import base64
import html
import pickle

import frappe

from jobkit.engine.dead_letter import DeadLetter
from jobkit.site import retention
from jobkit.site.text import as_text, shown_kwargs, site_time, site_timezone

DOCTYPE = "Jobkit Failed Job"
ATTEMPT_DOCTYPE = "Jobkit Failed Job Attempt"
FAILED, RETRIED, DISCARDED = "Failed", "Retried", "Discarded"


def record(letter: DeadLetter) -> str:
	"""Write the record of a job's final failure, committed; return its name."""
	reference = letter.reference
	if reference and not frappe.db.exists("DocType", reference[0]):
		reference = None
	doc = frappe.get_doc(
		{
			"doctype": DOCTYPE,
			"status": FAILED,
			"method": letter.method,
			"queue": letter.queue,
			"job_id": as_text(letter.job_id),
			"rq_job_id": as_text(letter.rq_id),
			"user": letter.user,
			"attempts": letter.attempts,
			"error_type": as_text(letter.error_type),
			"error": as_text(letter.error),
			"first_failed_at": site_time(letter.first_failed_at),
			"last_failed_at": site_time(letter.last_failed_at),
			"kwargs": shown_kwargs(letter.kwargs),
			"traceback": letter.traceback,
			"reference_doctype": reference[0] if reference else None,
			"reference_name": reference[1] if reference else None,  # a name: the desk escapes links
			"attempt_errors": [
				{
					"attempt": failure["attempt"],
					"failed_at": site_time(failure["at"]),
					"error": as_text(failure["error"]),
				}
				for failure in letter.failures
			],
			"job": seal(letter.job),
			"retry_of": retry_of(letter),
		}
	)
	# The job's user may since have been deleted, its reference document too: keep the record.
	doc.insert(ignore_permissions=True, ignore_links=True)
	frappe.db.commit()
	return doc.name


def retry_of(letter: DeadLetter) -> str | None:
	"""The record whose retry this failed run was: retried as the first attempt of the same job
	(whose RQ id is the job id, site-namespaced as the site's host names it)."""
	from frappe.utils.background_jobs import create_job_id

	return frappe.db.get_value(
		DOCTYPE,
		{"retried_as": create_job_id(letter.job_id), "status": RETRIED},
		"name",
		order_by="resolved_at desc",
	)


RECENT_HOURS = 24
RECENT_SHOWN = 5


def recent_of(user: str) -> list[dict]:
	"""``user``'s jobs that failed for good in the last ``RECENT_HOURS``, as the tray shows runs."""
	since = frappe.utils.add_to_date(frappe.utils.now_datetime(), hours=-RECENT_HOURS)
	rows = frappe.get_all(
		DOCTYPE,
		{"user": user, "status": FAILED, "last_failed_at": (">=", since)},
		["name", "method", "queue", "error", "rq_job_id", "last_failed_at"],
		order_by="last_failed_at desc",
		limit=RECENT_SHOWN,
	)
	return [
		{
			"id": f"failed:{row.name}",
			"rq_id": row.rq_job_id,
			"failed_record": row.name,
			"method": row.method,
			"queue": row.queue,
			"title": row.method,
			"status": "failed",
			# Stored escaped for the desk; the tray escapes what it shows, so it gets the text.
			"reason": html.unescape(row.error or "")[:200],
			"done": 0,
			"total": None,
			"updated_at": row.last_failed_at.replace(tzinfo=site_timezone()).timestamp(),
		}
		for row in rows
	]


def prune(days: int) -> int:
	"""Delete the records left unchanged for ``days`` days (Log Settings sets how many)."""
	return retention.prune(DOCTYPE, days, (ATTEMPT_DOCTYPE,))


def seal(job: dict) -> str:
	from frappe.utils.password import encrypt

	return encrypt(base64.b64encode(pickle.dumps(job)).decode())


def unseal(text: str) -> dict:
	from frappe.utils.password import decrypt

	return pickle.loads(base64.b64decode(decrypt(text)))
