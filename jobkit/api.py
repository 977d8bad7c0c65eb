"""Whitelisted endpoints for the desk. Each checks permission on its first line."""

import frappe

from jobkit.engine import unique
from jobkit.engine.enqueue import MAX_JOB_ID_LENGTH
from jobkit.frappe_host import host

MANAGER_ROLE = "System Manager"


@frappe.whitelist()
def get_unique_lock(job_id: str) -> list[dict]:
	"""The unique keys held for a job id: holder job, its status, whether it is stale, TTL left."""
	frappe.only_for(MANAGER_ROLE)
	job_id = _checked_job_id(job_id)
	return unique.lock_info(host.connection, host.namespace, job_id)


@frappe.whitelist(methods=["POST"])
def clear_unique_lock(job_id: str, force: bool = False) -> dict:
	"""Release a stuck unique key. A key whose holder is still queued or running needs force=1."""
	frappe.only_for(MANAGER_ROLE)
	job_id = _checked_job_id(job_id)
	held = unique.lock_info(host.connection, host.namespace, job_id)
	live = [entry for entry in held if not entry["stale"]]
	if live and not frappe.utils.cint(force):
		frappe.throw(
			frappe._(
				"Job {0} is held by a {1} job ({2}); clearing it lets a second copy start. Pass force to clear anyway."
			).format(frappe.bold(job_id), live[0]["holder_status"], live[0]["holder"]),
			title=frappe._("Job still alive"),
		)
	released = unique.unlock(host.connection, host.namespace, job_id)
	frappe.logger("jobkit").info(f"unique key of {job_id} cleared by {frappe.session.user}: {released}")
	return {"job_id": job_id, "released": released}


def _checked_job_id(job_id: object) -> str:
	if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > MAX_JOB_ID_LENGTH:
		frappe.throw(
			frappe._("job_id must be a non-empty text of at most {0} characters").format(MAX_JOB_ID_LENGTH),
			exc=frappe.ValidationError,
		)
	return job_id
