"""A row of a Job Health Check."""

from frappe.model.document import Document


class JobHealthFinding(Document):
	pass
