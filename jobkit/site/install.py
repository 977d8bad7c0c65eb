"""Install and migrate hooks: Jobkit Settings gets its defaults stored, and the Jobs page opens for
its alert role.

A Single DocType's defaults show only while none of its fields is stored; once one field is
saved (a System Manager, a test, `set_single_value`), the others read as empty or 0. Storing
every field that has no value yet keeps the form and the code on the documented defaults.
"""

import frappe

SETTINGS = "Jobkit Settings"
JOBS_PAGE = "jobkit-jobs"
MANAGER_ROLE = "System Manager"


def ensure_settings_defaults() -> None:
	stored = {row[0] for row in frappe.db.sql("select field from `tabSingles` where doctype = %s", SETTINGS)}
	missing = {
		field.fieldname: field.default
		for field in frappe.get_meta(SETTINGS).fields
		if field.default is not None and field.fieldname not in stored
	}
	if missing:
		frappe.db.set_single_value(SETTINGS, missing)
		frappe.db.commit()


def after_migrate() -> None:
	ensure_settings_defaults()
	open_jobs_page_to_alert_role()


def open_jobs_page_to_alert_role() -> None:
	"""Let Jobkit Settings' alert role open the Jobs page (read-only: its actions are System
	Managers'). A Page's own roles are rewritten from its definition at every migrate; a Custom
	Role, Frappe's "Role Permission for Page and Report", is kept: the alert role is added to the
	page's Custom Role, and roles a System Manager added there stay."""
	role = frappe.db.get_single_value(SETTINGS, "alert_role")
	if not role or role == MANAGER_ROLE or not frappe.db.exists("Page", JOBS_PAGE):
		return
	name = frappe.db.get_value("Custom Role", {"page": JOBS_PAGE})
	doc = frappe.get_doc("Custom Role", name) if name else frappe.new_doc("Custom Role")
	doc.page = JOBS_PAGE
	roles = [row.role for row in doc.roles]
	if role in roles:
		return
	# A Custom Role replaces the page's own roles: System Managers keep it.
	for needed in (MANAGER_ROLE, role):
		if needed not in roles:
			doc.append("roles", {"role": needed})
	doc.save(ignore_permissions=True)
