"""Jobkit Settings: job health thresholds, alerting and the snapshot interval (read by ``jobkit.site.records.health_checks``)."""

import frappe
from frappe import _
from frappe.model.document import Document

POSITIVE_FIELDS = (
	"snapshot_interval",
	"wait_warning",
	"wait_critical",
	"pending_warning",
	"pending_critical",
	"failed_last_hour_warning",
	"failed_last_hour_critical",
	"heartbeat_stale_after",
)


class JobkitSettings(Document):
	def validate(self):
		for fieldname in POSITIVE_FIELDS:
			if (self.get(fieldname) or 0) < 1:
				frappe.throw(_("{0} must be at least 1").format(_(self.meta.get_label(fieldname))))
		for name in ("wait", "pending", "failed_last_hour"):
			if self.get(f"{name}_critical") < self.get(f"{name}_warning"):
				frappe.throw(
					_("{0} must not be below {1}").format(
						_(self.meta.get_label(f"{name}_critical")), _(self.meta.get_label(f"{name}_warning"))
					)
				)
		if (self.cooldown_minutes or 0) < 0 or (self.stuck_after_timeout or 0) < 0:
			frappe.throw(_("Cool-down and the stuck-job margin cannot be negative"))

	def on_update(self):
		from jobkit.site.install import open_jobs_page_to_alert_role

		open_jobs_page_to_alert_role()
