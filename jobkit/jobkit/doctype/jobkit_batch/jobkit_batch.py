"""A jobkit.batch run, written by ``jobkit.batch_records`` as the batch runs; read-only in the desk."""

from frappe.model.document import Document

from jobkit import batch_records


class JobkitBatch(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Batch"."""
		batch_records.prune(days)
