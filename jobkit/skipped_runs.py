"""Jobkit Skipped Run records: scheduled runs not started because the previous run was still going."""

import frappe

from jobkit import log_retention
from jobkit.failed_jobs import as_text

DOCTYPE = "Jobkit Skipped Run"


def record(method: str, job_id: str, holder: str, holder_status: str | None) -> None:
	"""Write the record; the scheduler's own transaction (``ScheduledJobType.execute``) commits it."""
	frappe.get_doc(
		{
			"doctype": DOCTYPE,
			"method": method,
			"job_id": as_text(job_id),
			"running_job": as_text(holder),
			"running_status": holder_status or "unknown",
		}
	).insert(ignore_permissions=True)
	frappe.logger("scheduler").info(
		f"jobkit: skipped a run of {method}: its previous run {holder} is still {holder_status}"
	)


def prune(days: int) -> int:
	return log_retention.prune(DOCTYPE, days)
