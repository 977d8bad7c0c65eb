"""Job functions for the Frappe-level tests; a real bench worker imports them by dotted path."""

import frappe

import jobkit


def record(marker: str) -> str:
	"""Write what the job saw into a ToDo (its owner is the job's user) and return the marker."""
	job = jobkit.current_job()
	frappe.get_doc(
		{
			"doctype": "ToDo",
			"description": f"{marker}|site={frappe.local.site}|job={job.id}|rq={job.rq_id}",
		}
	).insert(ignore_permissions=True)
	return marker


def fail(marker: str) -> None:
	raise frappe.ValidationError(f"jobkit test failure {marker}")


def record_failure(job, connection, exc_type, exc, traceback) -> None:
	frappe.get_doc({"doctype": "ToDo", "description": f"failure-callback|{exc_type.__name__}: {exc}"}).insert(
		ignore_permissions=True
	)


def deadlock_twice(marker: str) -> str:
	"""Fail the first two runs with a database deadlock, as MariaDB reports one; then record."""
	runs = frappe.cache.incr(f"jobkit-test-runs:{marker}")
	if runs <= 2:
		raise frappe.db.InternalError(
			1213, "Deadlock found when trying to get lock; try restarting transaction"
		)
	return record(marker)
