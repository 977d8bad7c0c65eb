"""Pruning jobkit's log-like records, for Log Settings (which calls each DocType's ``clear_old_logs``)."""

import frappe

# Records deleted per statement, so a large backlog never holds one long lock.
PRUNE_BATCH = 1000


def prune(doctype: str, days: int, child_doctypes: tuple[str, ...] = ()) -> int:
	"""Delete ``doctype`` records (and their child rows) left unchanged for ``days`` days."""
	cutoff = frappe.utils.add_days(frappe.utils.now_datetime(), -days)
	deleted = 0
	while names := frappe.get_all(
		doctype, filters={"modified": ("<", cutoff)}, pluck="name", limit=PRUNE_BATCH
	):
		for child in child_doctypes:
			frappe.db.delete(child, {"parenttype": doctype, "parent": ("in", names)})
		frappe.db.delete(doctype, {"name": ("in", names)})
		deleted += len(names)
	return deleted
