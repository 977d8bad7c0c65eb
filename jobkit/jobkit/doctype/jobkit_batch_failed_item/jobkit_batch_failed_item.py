"""One failed item of a Jobkit Batch: the item, its error, and its chunk."""

from frappe.model.document import Document


class JobkitBatchFailedItem(Document):
	pass
