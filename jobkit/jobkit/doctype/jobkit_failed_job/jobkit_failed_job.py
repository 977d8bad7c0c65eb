"""A job whose last attempt failed. The record is written by ``jobkit.site.records.failed_jobs``, acted on by ``jobkit.site.actions``."""

from frappe.model.document import Document

from jobkit.site.records import failed_jobs


class JobkitFailedJob(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Failed Job"."""
		failed_jobs.prune(days)
