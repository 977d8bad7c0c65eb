"""One failed attempt of a Jobkit Failed Job: when, and with which error."""

from frappe.model.document import Document


class JobkitFailedJobAttempt(Document):
	pass
