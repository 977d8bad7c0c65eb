"""``jobkit.check_hooks()`` and ``bench --site S jobkit check``: every app's scheduler_events, checked.

Each event maps to the cron expression and queue that Frappe's scheduler gives it (the map of
``ScheduledJobType.get_next_execution``); the checks themselves are the engine's.
"""

from datetime import datetime

from jobkit.engine import schedule_check
from jobkit.engine.errors import NotConfigured

# Frappe's named scheduler events, as cron expressions (its Scheduled Job Type CRON_MAP).
EVENT_CRON = {
	"hourly": "0 * * * *",
	"daily": "0 0 * * *",
	"weekly": "0 0 * * 0",
	"monthly": "0 0 1 * *",
	"yearly": "0 0 1 1 *",
	"annual": "0 0 1 1 *",
}
# Event suffixes whose runs go to the long queue: "_long" (v15 and v16) and "_maintenance" (v16:
# hourly_maintenance and daily_maintenance, Frappe's own housekeeping).
LONG_QUEUE_SUFFIXES = ("_long", "_maintenance")
DEFAULT_SCHEDULER_INTERVAL = 240


try:
	import frappe
	from frappe.utils import background_jobs

	from jobkit.site.text import site_timezone
except ImportError:  # outside a bench `jobkit.check_hooks` still imports, and says what it needs
	frappe = None


def check_hooks(apps: list[str] | None = None) -> list[schedule_check.EntryReport]:
	"""Check every installed app's ``scheduler_events`` on the current Frappe site (or ``apps``).

	One report per entry: app, event, cron, method, queue and timeout (of the hand-off for an
	``@jobkit.job`` target), next three runs in the site's time zone, and findings (errors:
	invalid cron, target that does not import or needs arguments, a method registered twice;
	warnings: heavy-looking ``all`` entries, ``cron`` entries left on the 300 s default queue).
	"""
	if frappe is None:
		raise NotConfigured(
			"jobkit.check_hooks checks a Frappe site's scheduler_events and needs a Frappe site"
		)
	timezone = site_timezone()
	return schedule_check.check(
		list(_entries(apps or frappe.get_installed_apps())),
		now=datetime.now(timezone),
		queue_timeouts=background_jobs.get_queues_timeout(),
	)


def known_events() -> set[str]:
	"""The scheduler events this Frappe runs: its Scheduled Job Type frequencies, as hooks name them
	("Hourly Long" is hourly_long; v16 adds Hourly and Daily Maintenance)."""
	options = frappe.get_meta("Scheduled Job Type").get_field("frequency").options or ""
	return {option.strip().lower().replace(" ", "_") for option in options.split("\n") if option.strip()}


def _entries(apps):
	every_tick = f"*/{(frappe.get_conf().scheduler_interval or DEFAULT_SCHEDULER_INTERVAL) // 60} * * * *"
	known = known_events()
	for app in apps:
		events = frappe.get_hooks("scheduler_events", {}, app_name=app) or {}
		for event, targets in events.items():
			if event == "cron":
				for cron, methods in targets.items():
					for method in methods:
						yield app, event, cron, method, "default"
				continue
			suffix = next((suffix for suffix in LONG_QUEUE_SUFFIXES if event.endswith(suffix)), "")
			base = event.removesuffix(suffix) if suffix else event
			cron = every_tick if event == "all" else EVENT_CRON.get(base)
			if event not in known:
				cron = None  # an event this Frappe's scheduler does not run: reported as unknown
			for method in targets:
				yield app, event, cron, method, "long" if suffix else "default"


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
