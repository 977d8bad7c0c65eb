"""A scheduled run skipped because the previous one was still going; written by ``jobkit.site.records.skipped_runs``."""

from frappe.model.document import Document

from jobkit.site.records import skipped_runs


class JobkitSkippedRun(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Skipped Run"."""
		skipped_runs.prune(days)
