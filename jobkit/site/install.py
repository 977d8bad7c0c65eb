"""Install and migrate hooks: Jobkit Settings gets its defaults stored.

A Single DocType's defaults show only while none of its fields is stored; once one field is
saved (a System Manager, a test, `set_single_value`), the others read as empty or 0. Storing
every field that has no value yet keeps the form and the code on the documented defaults.
"""

import frappe

SETTINGS = "Jobkit Settings"


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
