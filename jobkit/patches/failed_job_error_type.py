"""Jobkit Failed Job gained an Error Type (the exception's class name): fill it in for older records,
from their error text ("ValueError: bad row" -> "ValueError"), on MariaDB and PostgreSQL alike."""

import frappe

DOCTYPE = "Jobkit Failed Job"
PAGE = 500


def execute():
	last = ""
	while rows := frappe.get_all(
		DOCTYPE,
		filters={"error_type": ("is", "not set"), "name": (">", last)},
		fields=["name", "error"],
		order_by="name asc",
		limit=PAGE,
	):
		for row in rows:
			error_type = (row.error or "").partition(":")[0].strip()
			if error_type and " " not in error_type:
				frappe.db.set_value(DOCTYPE, row.name, "error_type", error_type, update_modified=False)
		last = rows[-1].name
