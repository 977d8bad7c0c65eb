"""Job Health Check records: periodic snapshots of a site's job health, and alerts on a change.

Every minute the scheduler calls ``take_due_snapshot``; a snapshot is taken when the last one is
older than Jobkit Settings' interval. Each snapshot is one record (verdict, findings, queues,
Redis). When the verdict differs from the previous snapshot's, the users with the alert role get
a Notification Log, the extra recipients an email (when outgoing email is set up), and System
Managers online a realtime toast: at once when it got worse, and otherwise (a recovery) only
when no alert went out within the cool-down. The same verdict twice sends nothing.
"""

import frappe
from frappe import _

from jobkit.engine.health import OK, SEVERITY_ORDER, Report, Thresholds
from jobkit.site import health as site_health
from jobkit.site import retention
from jobkit.site.text import as_text, site_time

DOCTYPE = "Job Health Check"
SETTINGS = "Jobkit Settings"
CHILD_DOCTYPES = ("Job Health Finding", "Job Health Queue", "Job Health Limit")
MANAGER_ROLE = "System Manager"
# Longest finding message kept on a record.
MAX_MESSAGE = 1000


def thresholds() -> Thresholds:
	"""The thresholds of Jobkit Settings (their defaults until a System Manager changes them)."""
	settings = frappe.get_cached_doc(SETTINGS)
	defaults = Thresholds()
	values = {}
	for name in Thresholds.__dataclass_fields__:
		value = settings.get(name)
		values[name] = (
			type(getattr(defaults, name))(value) if value not in (None, "") else getattr(defaults, name)
		)
	return Thresholds(**values)


def take_due_snapshot() -> str | None:
	"""A snapshot if the last one is older than the settings' interval; its name, or None."""
	interval = frappe.utils.cint(frappe.db.get_single_value(SETTINGS, "snapshot_interval")) or 5
	# The latest by ordering, not "max(...)": Frappe v16 refuses SQL functions as field strings.
	last = frappe.db.get_value(DOCTYPE, {}, "collected_at", order_by="collected_at desc")
	if last and frappe.utils.time_diff_in_seconds(frappe.utils.now_datetime(), last) < interval * 60 - 5:
		return None
	return take_snapshot()


def take_snapshot() -> str:
	"""Collect the site's job health, keep it as a record, alert on a change of verdict; commit."""
	previous = frappe.get_all(
		DOCTYPE, fields=["name", "verdict"], order_by="collected_at desc, creation desc", limit=1
	)
	report = site_health.check(thresholds())
	doc = _record(report)
	doc.insert(ignore_permissions=True)
	before = previous[0].verdict if previous else OK
	if report.verdict != before and _should_alert(before, report.verdict):
		_alert(doc, before)
		doc.db_set("alert_sent", 1)
	frappe.db.commit()
	return doc.name


SUMMARY_LENGTH = 140


def _summary(report: Report, counts: dict) -> str:
	"""What a list of snapshots shows for one: its worst finding, and the counts by severity."""
	if not report.findings:
		return _("no findings")
	worst = report.findings[0].message  # findings are kept worst first
	tally = ", ".join(f"{count} {_(severity)}" for severity, count in counts.items())
	room = SUMMARY_LENGTH - len(tally) - 3
	text = worst if len(worst) <= room else worst[: room - 1] + "…"
	return as_text(f"{text} ({tally})")


# A Data field holds 140 characters; a health record keeps the keys most in use, at most this many.
MAX_KEY = 140
MAX_LIMITS = 50


def _record(report: Report):
	counts = {}
	for finding in report.findings:
		counts[finding.severity] = counts.get(finding.severity, 0) + 1
	summary = _summary(report, counts)
	waits = [q.oldest_wait_seconds for q in report.queues if q.oldest_wait_seconds is not None]
	return frappe.get_doc(
		{
			"doctype": DOCTYPE,
			"verdict": report.verdict,
			"findings_count": len(report.findings),
			"summary": summary,
			"collected_at": site_time(report.collected_at),
			"duration_ms": report.duration_ms,
			"total_pending": sum(q.pending for q in report.queues),
			"max_wait": max(waits, default=0),
			"redis_round_trip_ms": report.redis.round_trip_ms,
			"redis_used_memory": report.redis.used_memory,
			"redis_max_memory": report.redis.max_memory,
			"redis_eviction_policy": report.redis.eviction_policy,
			"findings": [
				{
					"severity": finding.severity,
					"check": finding.check,
					"queue": finding.queue,
					"message": as_text(finding.message[:MAX_MESSAGE]),
				}
				for finding in report.findings
			],
			"queues": [
				{
					"queue": q.name,
					"pending": q.pending,
					"oldest_wait": q.oldest_wait_seconds or 0,
					"workers": q.workers,
					"busy": q.busy,
					"idle": q.idle,
					"stale": q.stale,
					"stuck": q.stuck,
					"failed_last_hour": q.failed_last_hour,
					"delayed_overdue": q.delayed_overdue,
					"paused": int(q.paused),
				}
				for q in report.queues
			],
			"limits": [
				{
					"limit_key": as_text(limit.key[:MAX_KEY]),
					"rule": as_text(limit.description[:MAX_KEY]),
					"held": limit.held,
					"starts": limit.starts or 0,
					"waiting": limit.waiting,
					"oldest_wait": limit.oldest_wait_seconds or 0,
				}
				for limit in report.limits[:MAX_LIMITS]
			],
		}
	)


def _should_alert(before: str, now: str) -> bool:
	if SEVERITY_ORDER[now] > SEVERITY_ORDER[before]:
		return True  # worse: at once
	cooldown = frappe.utils.cint(frappe.db.get_single_value(SETTINGS, "cooldown_minutes"))
	since = frappe.utils.add_to_date(frappe.utils.now_datetime(), minutes=-cooldown)
	return not frappe.db.exists(DOCTYPE, {"alert_sent": 1, "collected_at": (">", since)})


def _alert(doc, before: str) -> None:
	worse = SEVERITY_ORDER[doc.verdict] > SEVERITY_ORDER[before]
	site = frappe.local.site
	subject = (
		_("Job health on {0}: {1} (was {2})").format(site, _(doc.verdict), _(before))
		if worse
		else _("Job health on {0} recovered: {1} (was {2})").format(site, _(doc.verdict), _(before))
	)
	lines = "".join(f"<li>{row.severity} {row.check}: {row.message}</li>" for row in doc.findings[:10])
	body = f"<p>{frappe.utils.escape_html(subject)}</p><ul>{lines}</ul>"
	role = frappe.db.get_single_value(SETTINGS, "alert_role") or MANAGER_ROLE
	for user in _users_with_role(role):
		frappe.get_doc(
			{
				"doctype": "Notification Log",
				"subject": subject,
				"for_user": user,
				"type": "Alert",
				"document_type": DOCTYPE,
				"document_name": doc.name,
				"email_content": body,
			}
		).insert(ignore_permissions=True)
	recipients = [
		line.strip()
		for line in (frappe.db.get_single_value(SETTINGS, "alert_recipients") or "").splitlines()
		if line.strip()
	]
	if recipients and frappe.db.exists("Email Account", {"enable_outgoing": 1, "default_outgoing": 1}):
		frappe.sendmail(recipients=recipients, subject=subject, message=body, delayed=True)
	indicator = {"OK": "green", "Warning": "orange", "Critical": "red"}[doc.verdict]
	for user in _users_with_role(MANAGER_ROLE):
		frappe.publish_realtime(
			"jobkit_health",
			{"subject": subject, "verdict": doc.verdict, "name": doc.name, "indicator": indicator},
			user=user,
		)


def _users_with_role(role: str) -> list[str]:
	users = frappe.get_all("Has Role", filters={"role": role, "parenttype": "User"}, pluck="parent")
	return frappe.get_all(
		"User",
		filters=[["name", "in", users or [""]], ["name", "not in", ("Guest",)], ["enabled", "=", 1]],
		pluck="name",
	)


def prune(days: int) -> int:
	"""Delete snapshots older than ``days`` days (Log Settings sets how many)."""
	return retention.prune(DOCTYPE, days, CHILD_DOCTYPES)
