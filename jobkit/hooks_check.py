"""``jobkit.check_hooks()`` and ``bench --site S jobkit check``: every app's scheduler_events, checked.

Each event maps to the cron expression and queue that Frappe's scheduler gives it (the map of
``ScheduledJobType.get_next_execution``); the checks themselves are the engine's.
"""

from datetime import datetime

import frappe

from jobkit.engine import schedule_check

# Frappe's named scheduler events, as cron expressions (its Scheduled Job Type CRON_MAP).
EVENT_CRON = {
	"hourly": "0 * * * *",
	"daily": "0 0 * * *",
	"weekly": "0 0 * * 0",
	"monthly": "0 0 1 * *",
	"yearly": "0 0 1 1 *",
	"annual": "0 0 1 1 *",
}
DEFAULT_SCHEDULER_INTERVAL = 240


def check_hooks(apps: list[str] | None = None) -> list[schedule_check.EntryReport]:
	"""Check the scheduler_events of ``apps`` (default: the site's installed apps)."""
	from jobkit.frappe_host import host

	timezone = host.naive_timezone
	return schedule_check.check(
		list(_entries(apps or frappe.get_installed_apps())),
		now=datetime.now(timezone),
		queue_timeouts=host.queue_timeouts(),
	)


def _entries(apps):
	every_tick = f"*/{(frappe.get_conf().scheduler_interval or DEFAULT_SCHEDULER_INTERVAL) // 60} * * * *"
	for app in apps:
		events = frappe.get_hooks("scheduler_events", {}, app_name=app) or {}
		for event, targets in events.items():
			if event == "cron":
				for cron, methods in targets.items():
					for method in methods:
						yield app, event, cron, method, "default"
				continue
			base = event.removesuffix("_long")
			cron = every_tick if event == "all" else EVENT_CRON.get(base)
			for method in targets:
				yield app, event, cron, method, "long" if event.endswith("_long") else "default"


def as_dict(report: schedule_check.EntryReport) -> dict:
	return {
		"app": report.app,
		"event": report.event,
		"cron": report.cron,
		"method": report.method,
		"queue": report.queue,
		"timeout": report.timeout,
		"handed_off": report.handed_off,
		"next_runs": [run.isoformat() for run in report.next_runs],
		"findings": [
			{"severity": f.severity, "check": f.check, "message": f.message} for f in report.findings
		],
	}
