"""What people do to jobkit's records, from the desk, the API and bench commands: retry or discard
a failed job, cancel a batch or retry its failed items. Each acts through the Frappe host."""

import frappe
from frappe import _

from jobkit.engine import batches
from jobkit.engine.dead_letters import requeue
from jobkit.engine.errors import DuplicateJob, InvalidArgument, JobkitError
from jobkit.engine.handle import JobHandle
from jobkit.site.host import host
from jobkit.site.records import batches as batch_records
from jobkit.site.records import failed_jobs


class FailedJobRefused(JobkitError):
	"""A failed job record that cannot be retried or discarded now; the message says why."""


# What acting on one record may raise for that record alone: jobkit's refusals (a held unique
# key, a method gone), and Frappe's (a stored job that no longer decrypts with the site's key).
REFUSALS = (JobkitError, frappe.ValidationError)


def retry_failed_job(name: str) -> JobHandle:
	"""Enqueue the record's stored job again, as a new first attempt; the record becomes Retried."""
	doc = _failed_job(name, _("retried"))
	try:
		handle = requeue(host, failed_jobs.unseal(doc.job))
	except DuplicateJob as e:
		raise FailedJobRefused(
			_(
				"{0} was not retried: another run of job {1} is queued or running ({2}). Retry it once that run ends."
			).format(name, e.job_id, e.holder)
		) from None
	doc.db_set(
		{
			"status": failed_jobs.RETRIED,
			"retried_as": handle.rq_id,
			"resolved_by": frappe.session.user,
			"resolved_at": frappe.utils.now_datetime(),
		}
	)
	return handle


def retry_failed_job_as_rq_id(name: str) -> str:
	"""``retry_failed_job``, returning the RQ id of the new job (what people are shown)."""
	return retry_failed_job(name).rq_id


def discard_failed_job(name: str) -> None:
	"""Mark the record Discarded: looked at, and not to be run again."""
	doc = _failed_job(name, _("discarded"))
	doc.db_set(
		{
			"status": failed_jobs.DISCARDED,
			"resolved_by": frappe.session.user,
			"resolved_at": frappe.utils.now_datetime(),
		}
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


def _failed_job(name: str, action: str):
	"""The record, locked until the transaction ends, so two callers cannot both act on it."""
	if not frappe.db.exists(failed_jobs.DOCTYPE, name):
		raise FailedJobRefused(
			_("{0} {1} does not exist: it may have been pruned").format(_(failed_jobs.DOCTYPE), name)
		)
	doc = frappe.get_doc(failed_jobs.DOCTYPE, name, for_update=True)
	if doc.status != failed_jobs.FAILED:
		raise FailedJobRefused(
			_("{0} is {1} already: only Failed records can be {2}").format(name, _(doc.status), action)
		)
	return doc


def cancel_batch(name: str) -> bool:
	"""Cancel the batch of record ``name``: queued chunks dropped, running ones stop at their next item.

	False when the batch had already ended.
	"""
	check_batch_access(name)
	cancelled = batches.cancel(host, name)
	if cancelled:
		frappe.db.set_value(batch_records.DOCTYPE, name, "cancelled_by", frappe.session.user)
	return cancelled


def retry_batch_failed_items(name: str) -> str:
	"""A new batch over exactly the failed items of record ``name``; returns the new record's name."""
	check_batch_access(name)
	doc = frappe.get_doc(batch_records.DOCTYPE, name, for_update=True)
	if doc.retried_as:
		raise InvalidArgument(
			_("The failed items of batch {0} were retried already, as batch {1}").format(name, doc.retried_as)
		)
	handle = batches.retry_failed(host, name)
	doc.db_set("retried_as", handle.id)
	return handle.id


def check_batch_access(name: object) -> None:
	"""Only the batch's user and System Managers act on a batch (PermissionError otherwise)."""
	if not isinstance(name, str) or not name or len(name) > 140:
		frappe.throw(_("name must be the name of a Jobkit Batch record"), exc=frappe.ValidationError)
	if not frappe.db.exists(batch_records.DOCTYPE, name):
		frappe.throw(
			_("{0} {1} not found").format(_(batch_records.DOCTYPE), name), exc=frappe.DoesNotExistError
		)
	frappe.has_permission(batch_records.DOCTYPE, "read", doc=name, throw=True)
