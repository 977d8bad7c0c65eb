"""A job health snapshot, written by ``jobkit.site.records.health_checks``; read-only in the desk."""

from frappe.model.document import Document

from jobkit.site.records import health_checks


class JobHealthCheck(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Job Health Check"."""
		health_checks.prune(days)
