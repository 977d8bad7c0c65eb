"""A job whose last attempt failed. The record is written and acted on by ``jobkit.failed_jobs``."""

from frappe.model.document import Document

from jobkit import failed_jobs


class JobkitFailedJob(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Failed Job"."""
		failed_jobs.prune(days)
