"""A jobkit.batch run, written by ``jobkit.site.records.batches`` as the batch runs; read-only in the desk."""

from frappe.model.document import Document

from jobkit.site.records import batches as batch_records


class JobkitBatch(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Batch"."""
		batch_records.prune(days)
