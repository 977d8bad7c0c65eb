"""A row of a Job Health Check: one key's limit (jobkit.Limit, jobkit.Rate, a fair share)."""

from frappe.model.document import Document


class JobHealthLimit(Document):
	pass
