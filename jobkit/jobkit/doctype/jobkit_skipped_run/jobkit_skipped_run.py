"""A scheduled run skipped because the previous one was still going; written by ``jobkit.skipped_run_records``."""

from frappe.model.document import Document

from jobkit import skipped_run_records


class JobkitSkippedRun(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Skipped Run"."""
		skipped_run_records.prune(days)
