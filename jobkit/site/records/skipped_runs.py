"""Jobkit Skipped Run records: the Frappe host's skipped runs (see ``jobkit.engine.skipped``)."""

import frappe

from jobkit.engine.skipped import CANCELLED, OVERLAP, SUPERSEDED, SkippedRun
from jobkit.site import retention
from jobkit.site.text import as_text, shown_kwargs, site_time

DOCTYPE = "Jobkit Skipped Run"
REASONS = {OVERLAP: "Overlap", SUPERSEDED: "Superseded", CANCELLED: "Cancelled"}


def record(skipped: SkippedRun) -> None:
	"""Write the record, committed. A superseded attempt's record is written once, however many
	times a reaper taken over after a crash writes it again."""
	reason = REASONS[skipped.reason]
	if skipped.rq_id and frappe.db.exists(DOCTYPE, {"rq_job_id": as_text(skipped.rq_id), "reason": reason}):
		return
	user = skipped.user if skipped.user and frappe.db.exists("User", skipped.user) else None
	frappe.get_doc(
		{
			"doctype": DOCTYPE,
			"reason": reason,
			"method": skipped.method,
			"job_id": as_text(skipped.job_id),
			"queue": skipped.queue,
			"user": user,
			"running_job": as_text(skipped.holder),
			"running_status": skipped.holder_status or "unknown",
			"skipped_at": site_time(skipped.at),
			"rq_job_id": as_text(skipped.rq_id) if skipped.rq_id else None,
			"attempt": skipped.attempt,
			"error": as_text(skipped.error) if skipped.error else None,
			"kwargs": shown_kwargs(skipped.kwargs) if skipped.kwargs is not None else None,
		}
	).insert(ignore_permissions=True)
	# Committed here, as a failed job's record is: the run that writes it (a retry's work-horse, the
	# reaper) has rolled its own work back, and this record is its outcome.
	frappe.db.commit()
	if skipped.reason == OVERLAP:
		frappe.logger("scheduler").info(
			f"jobkit: skipped a run of {skipped.method}: its previous run {skipped.holder} is still "
			f"{skipped.holder_status}"
		)


def prune(days: int) -> int:
	return retention.prune(DOCTYPE, days)
