"""A site's job health: the engine's report (queues, workers, Redis) plus what only Frappe knows.

The scheduler (disabled, paused, maintenance mode, dormant site), when it last ran a job, the
scheduled jobs overdue against their cron, and the Error Log rate. Each check is guarded: a
check that fails is reported as a finding of its own instead of failing the report.
"""

from datetime import timedelta

import frappe

from jobkit.engine import health
from jobkit.engine.health import CRITICAL, SEVERITY_ORDER, WARNING, Finding, Report, Thresholds
from jobkit.site.host import host

# A scheduled job whose next run is this far in the past has not been run by the scheduler.
OVERDUE_GRACE = timedelta(minutes=15)
# The scheduler runs some job every few minutes ("all" events every 4): silence beyond this is not.
SCHEDULER_SILENCE = timedelta(minutes=15)
ERROR_LOGS_PER_HOUR_WARNING = 20  # unless Jobkit Settings says otherwise
# Job types named in a finding, at most.
SAMPLE = 5


def check(thresholds: Thresholds | None = None) -> Report:
	"""The engine's report of this site's queues and Redis, with the site's scheduler findings."""
	report = health.collect(host, thresholds)
	findings: list[Finding] = []
	for guarded in (_scheduler, _overdue_jobs, _error_logs):
		try:
			findings.extend(guarded())
		except Exception as e:  # one broken check must not hide the others
			frappe.db.rollback()
			findings.append(Finding(WARNING, guarded.__name__.strip("_"), f"check failed: {e!r}"))
	report.add(findings)
	return report


def _scheduler() -> list[Finding]:
	from frappe.utils.scheduler import is_dormant, is_scheduler_disabled

	conf = frappe.local.conf
	if conf.maintenance_mode:
		return [Finding(WARNING, "scheduler", "maintenance mode is on: the scheduler runs nothing")]
	if is_scheduler_disabled(verbose=False):
		return [
			Finding(
				CRITICAL,
				"scheduler",
				"the scheduler is disabled: no scheduled job runs (bench --site SITE enable-scheduler)",
			)
		]
	if conf.pause_scheduler:
		return [
			Finding(WARNING, "scheduler", "the scheduler is paused (pause_scheduler in site_config.json)")
		]
	findings = []
	if is_dormant():
		# Every scheduled job then runs once a day, whatever its schedule: an hourly sync is a day late.
		days = frappe.get_system_settings("dormant_days") or 4
		findings.append(
			Finding(
				CRITICAL,
				"scheduler",
				f"the site is dormant (no activity for {days} days or more): the scheduler runs its "
				"jobs only once a day. Any activity wakes it (a login, a saved document); to keep "
				"running on schedule while nobody uses the site, raise System Settings' \"Run Jobs "
				'only Daily if Inactive For" (dormant_days)',
			)
		)
	# The latest by ordering, not "max(...)": Frappe v16 refuses SQL functions as field strings.
	last = frappe.db.get_value(
		"Scheduled Job Type",
		{"stopped": 0, "last_execution": ("is", "set")},
		"last_execution",
		order_by="last_execution desc",
	)
	now = frappe.utils.now_datetime()
	if last is None or now - frappe.utils.get_datetime(last) > SCHEDULER_SILENCE:
		since = "yet" if last is None else f"since {last}"
		findings.append(
			Finding(
				WARNING,
				"scheduler_tick",
				f"the scheduler has run no job {since}: is `bench schedule` (the scheduler process) running?",
			)
		)
	return findings


def _overdue_jobs() -> list[Finding]:
	from frappe.utils.scheduler import is_dormant, is_scheduler_inactive

	if is_scheduler_inactive(verbose=False) or is_dormant():
		return []  # reported by _scheduler; nothing is expected to run
	now = frappe.utils.now_datetime()
	overdue = []
	for name in frappe.get_all("Scheduled Job Type", filters={"stopped": 0}, pluck="name"):
		job_type = frappe.get_doc("Scheduled Job Type", name)
		if job_type.get_next_execution() + OVERDUE_GRACE < now:
			overdue.append(job_type.method)
	if not overdue:
		return []
	return [
		Finding(
			WARNING,
			"scheduled_overdue",
			f"{len(overdue)} scheduled job(s) missed their time by more than "
			f"{int(OVERDUE_GRACE.total_seconds() // 60)} min: " + ", ".join(overdue[:SAMPLE]),
		)
	]


def _error_logs() -> list[Finding]:
	setting = frappe.db.get_single_value("Jobkit Settings", "error_logs_per_hour_warning")
	limit = ERROR_LOGS_PER_HOUR_WARNING if setting in (None, "") else int(setting)
	if limit <= 0:  # turned off in Jobkit Settings
		return []
	since = frappe.utils.add_to_date(frappe.utils.now_datetime(), hours=-1)
	count = frappe.db.count("Error Log", {"creation": (">", since)})
	if count < limit:
		return []
	return [
		Finding(
			WARNING,
			"error_logs",
			f"{count} Error Log records in the last hour (limit {limit}, in Jobkit Settings): see the Error Log list",
		)
	]


def exit_code(report: Report) -> int:
	"""0 OK, 1 Warning, 2 Critical: what `bench jobkit doctor` exits with."""
	return SEVERITY_ORDER[report.verdict]
