"""Jobkit Failed Job records: the Frappe host's dead letters, and retrying or discarding them.

A record shows the job (kwargs with secret-looking values redacted), every attempt's error and the
last traceback. The job itself, as first enqueued, is kept encrypted with the site's encryption
key in a hidden field: retrying puts back exactly that job (method, queue, arguments, user,
unique key, retry policy), never anything a caller sends, and a record whose stored job was
tampered with fails to decrypt rather than run.
"""

import base64
import json
import pickle
from datetime import datetime

import frappe
from frappe import _

from jobkit import log_retention
from jobkit.engine import enqueue as engine_enqueue
from jobkit.engine.deadletter import DeadLetter
from jobkit.engine.errors import DuplicateJob, JobkitError
from jobkit.engine.handle import JobHandle

DOCTYPE = "Jobkit Failed Job"
ATTEMPT_DOCTYPE = "Jobkit Failed Job Attempt"
FAILED, RETRIED, DISCARDED = "Failed", "Retried", "Discarded"
# Longest kwargs text shown on a record; the stored job keeps all of it.
MAX_KWARGS_SHOWN = 100_000


class FailedJobRefused(JobkitError):
	"""A failed job record that cannot be retried or discarded now; the message says why."""


# What acting on one record may raise for that record alone: jobkit's refusals (a held unique
# key, a method gone), and Frappe's (a stored job that no longer decrypts with the site's key).
REFUSALS = (JobkitError, frappe.ValidationError)


def record(letter: DeadLetter) -> str:
	"""Write the record of a job's final failure, committed; return its name."""
	from jobkit.frappe_host import host

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
			"error": as_text(letter.error),
			"first_failed_at": site_time(letter.first_failed_at, host.naive_timezone),
			"last_failed_at": site_time(letter.last_failed_at, host.naive_timezone),
			"kwargs": shown_kwargs(letter.kwargs),
			"traceback": letter.traceback,
			"reference_doctype": reference[0] if reference else None,
			"reference_name": reference[1] if reference else None,  # a name: the desk escapes links
			"attempt_errors": [
				{
					"attempt": failure["attempt"],
					"failed_at": site_time(failure["at"], host.naive_timezone),
					"error": as_text(failure["error"]),
				}
				for failure in letter.failures
			],
			"job": seal(letter.job),
		}
	)
	# The job's user may since have been deleted, its reference document too: keep the record.
	doc.insert(ignore_permissions=True, ignore_links=True)
	frappe.db.commit()
	return doc.name


def retry(name: str) -> JobHandle:
	"""Enqueue the record's stored job again, as a new first attempt; the record becomes Retried."""
	from jobkit.frappe_host import host

	doc = _failed(name, _("retried"))
	try:
		handle = engine_enqueue.requeue(host, unseal(doc.job))
	except DuplicateJob as e:
		raise FailedJobRefused(
			_(
				"{0} was not retried: another run of job {1} is queued or running ({2}). Retry it once that run ends."
			).format(name, e.job_id, e.holder)
		) from None
	doc.db_set(
		{
			"status": RETRIED,
			"retried_as": handle.rq_id,
			"resolved_by": frappe.session.user,
			"resolved_at": frappe.utils.now_datetime(),
		}
	)
	return handle


def retry_as_rq_id(name: str) -> str:
	"""``retry``, returning the RQ id of the new job (what people are shown)."""
	return retry(name).rq_id


def discard(name: str) -> None:
	"""Mark the record Discarded: looked at, and not to be run again."""
	doc = _failed(name, _("discarded"))
	doc.db_set(
		{"status": DISCARDED, "resolved_by": frappe.session.user, "resolved_at": frappe.utils.now_datetime()}
	)


def for_each(names, action) -> tuple[dict, dict]:
	"""Run ``action`` on each record in its own transaction, so one refusal does not undo the rest.

	Returns ``({name: result}, {name: why it was refused})``.
	"""
	done, refused = {}, {}
	for name in names:
		try:
			done[name] = action(name)
			frappe.db.commit()
		except REFUSALS as e:
			frappe.db.rollback()
			if isinstance(e, frappe.ValidationError):
				frappe.clear_last_message()  # reported below, per record, not as a pop-up
			refused[name] = str(e)
	return done, refused


def _failed(name: str, action: str):
	"""The record, locked until the transaction ends, so two callers cannot both act on it."""
	if not frappe.db.exists(DOCTYPE, name):
		raise FailedJobRefused(_("{0} {1} does not exist: it may have been pruned").format(_(DOCTYPE), name))
	doc = frappe.get_doc(DOCTYPE, name, for_update=True)
	if doc.status != FAILED:
		raise FailedJobRefused(
			_("{0} is {1} already: only Failed records can be {2}").format(name, _(doc.status), action)
		)
	return doc


def prune(days: int) -> int:
	"""Delete the records left unchanged for ``days`` days (Log Settings sets how many)."""
	return log_retention.prune(DOCTYPE, days, (ATTEMPT_DOCTYPE,))


def seal(job: dict) -> str:
	from frappe.utils.password import encrypt

	return encrypt(base64.b64encode(pickle.dumps(job)).decode())


def unseal(text: str) -> dict:
	from frappe.utils.password import decrypt

	return pickle.loads(base64.b64decode(decrypt(text)))


def as_text(value: str) -> str:
	"""``value`` escaped, so that the desk shows text from a job (an error, a job id) as text.

	Read-only Data and Small Text fields render their value as HTML; Frappe's sanitiser only
	removes scripts and handlers, so ``<img src=x>`` in an error message would still render.
	"""
	return frappe.utils.escape_html(value)


def shown_kwargs(kwargs: dict) -> str:
	text = json.dumps(kwargs, indent=1, default=str)
	if len(text) > MAX_KWARGS_SHOWN:
		text = text[:MAX_KWARGS_SHOWN] + f"\n… ({len(text) - MAX_KWARGS_SHOWN} more characters)"
	return text


def site_time(timestamp: float, timezone) -> datetime:
	"""A Unix time as Frappe stores datetimes: naive, in the site's time zone."""
	return datetime.fromtimestamp(timestamp, timezone).replace(tzinfo=None)
