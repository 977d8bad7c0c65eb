"""Who reads jobkit's records of jobs (Jobkit Batch, Failed Job, Skipped Run): the job's user, and System
Managers. Wired as ``has_permission`` (one record) and ``permission_query_conditions`` (lists and
reports) in hooks.py; nobody but jobkit writes these records.
"""

import frappe

MANAGER_ROLE = "System Manager"
# What a record's own user may do with it: look at it, never change it.
OWNER_PERMISSIONS = ("read", "print", "email")


def has_permission(doc, ptype: str = "read", user: str | None = None) -> bool:
	user = user or frappe.session.user
	if MANAGER_ROLE in frappe.get_roles(user):
		return True
	return ptype in OWNER_PERMISSIONS and bool(doc.user) and doc.user == user


def batch_conditions(user: str | None = None) -> str:
	return _own_records("Jobkit Batch", user)


def failed_job_conditions(user: str | None = None) -> str:
	return _own_records("Jobkit Failed Job", user)


def skipped_run_conditions(user: str | None = None) -> str:
	return _own_records("Jobkit Skipped Run", user)


def _own_records(doctype: str, user: str | None) -> str:
	user = user or frappe.session.user
	if MANAGER_ROLE in frappe.get_roles(user):
		return ""
	return f"`tab{doctype}`.`user` = {frappe.db.escape(user)}"
