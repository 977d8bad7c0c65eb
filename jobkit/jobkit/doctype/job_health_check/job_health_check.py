"""A job health snapshot, written by ``jobkit.health_records``; read-only in the desk."""

from frappe.model.document import Document

from jobkit import health_records


class JobHealthCheck(Document):
	@staticmethod
	def clear_old_logs(days: int = 30) -> None:
		"""Called daily by Log Settings, with the days set there for "Job Health Check"."""
		health_records.prune(days)
