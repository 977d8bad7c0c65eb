"""An hour of a method's runs on a queue; written by ``jobkit.site.records.job_stats``."""

from frappe.model.document import Document

from jobkit.site.records import job_stats


class JobkitJobStat(Document):
	@staticmethod
	def clear_old_logs(days: int = job_stats.KEEP_DAYS) -> None:
		"""Called daily by Log Settings, with the days set there for "Jobkit Job Stat"."""
		job_stats.prune(days)
