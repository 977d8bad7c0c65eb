"""What the Jobkit workspace shows: the health verdict with its worst findings, the Jobs page's
headline figures as number cards, and the stats' last 24 hours by queue as charts (from Redis, so
they show data from a site's first job, not daily averages of snapshots).

``jobkit.api`` checks permission, then calls these. Each read is bounded like the Jobs page's.
"""

from datetime import datetime, timedelta, timezone

import frappe
from frappe import _

from jobkit.engine import stats
from jobkit.engine.health import Report
from jobkit.site import health as site_health
from jobkit.site.host import host
from jobkit.site.records import failed_jobs, health_checks
from jobkit.site.text import site_timezone

PAGE_ROUTE = "/app/jobkit-jobs"
FINDINGS_SHOWN = 2
CHART_HOURS = 24
COLOURS = {"OK": "green", "Warning": "orange", "Critical": "red"}


def verdict_html(report: Report | None = None) -> str:
	"""The verdict card's body: the verdict in its colour, the worst findings, a link to the page;
	of ``report``, else of a health check now.

	Frappe shows a custom number card's text as HTML: every finding (it may name job ids and
	methods) is escaped here."""
	report = report or site_health.check(health_checks.thresholds())
	faults = [finding for finding in report.findings if finding.severity != "OK"]
	notes = [finding for finding in report.findings if finding.severity == "OK"]
	lines = [frappe.utils.escape_html(finding.message) for finding in (faults or notes)[:FINDINGS_SHOWN]]
	more = len(faults or notes) - len(lines)
	if more > 0:
		lines.append(_("and {0} more").format(more))
	summary = (
		"".join(f'<div class="text-muted small text-truncate" title="{line}">{line}</div>' for line in lines)
		if lines
		else f'<div class="text-muted small">{_("Every queue has a worker and nothing waits too long")}</div>'
	)
	colour = COLOURS.get(report.verdict, "gray")
	return (
		f'<a href="{PAGE_ROUTE}" style="text-decoration:none;display:block">'
		f'<span class="indicator-pill {colour}" style="font-size:var(--text-base)">{_(report.verdict)}</span>'
		f'<div style="font-size:var(--text-sm);font-weight:normal;margin-top:6px;line-height:1.4">{summary}'
		f'<div class="small" style="margin-top:4px">{_("Open the Jobs page")} &rarr;</div></div></a>'
	)


FIGURES = ("waiting", "running", "failed", "runs_last_hour")


def figure(name: str) -> dict:
	"""One headline figure as a custom number card's ``{value, fieldtype, route}``."""
	from rq.registry import StartedJobRegistry

	if name not in FIGURES:
		raise ValueError(name)
	route = ["jobkit-jobs"]
	if name in ("waiting", "running"):
		pipe = host.connection.pipeline(transaction=False)
		for queue in host.queue_timeouts():
			rq_queue = host.rq_queue(queue)
			if name == "waiting":
				pipe.llen(rq_queue.key)
			else:
				pipe.zcard(StartedJobRegistry(queue=rq_queue).key)
		value = sum(pipe.execute())
	elif name == "failed":
		value = frappe.db.count(failed_jobs.DOCTYPE, {"status": failed_jobs.FAILED})
		return {
			"value": value,
			"fieldtype": "Int",
			"route": ["List", failed_jobs.DOCTYPE],
			"route_options": {"status": failed_jobs.FAILED},
		}
	else:
		now = datetime.now(timezone.utc)
		summary = stats.summary(host.connection, frappe.local.site, now - timedelta(minutes=59), now)
		value = summary["total"]["runs"]
	return {"value": value, "fieldtype": "Int", "route": route}


def chart(kind: str) -> dict:
	"""The last ``CHART_HOURS`` hours by queue: runs ("runs") or 95th percentile seconds ("p95")."""
	now = datetime.now(timezone.utc)
	since = now - timedelta(hours=CHART_HOURS - 1)
	buckets = stats.read(host.connection, frappe.local.site, since, now, stats.HOUR)
	by_queue_hour = stats.sum_by(buckets, "queue", "at")
	hours = stats.span(since, now, stats.HOUR)
	queues = list(host.queue_timeouts())
	zone = site_timezone()
	labels = [hour.astimezone(zone).strftime("%H:00") for hour in hours]
	datasets = []
	for queue in queues:
		figures = [by_queue_hour.get((queue, hour), stats.Figures()) for hour in hours]
		if kind == "runs":
			values = [f.runs for f in figures]
		else:
			values = [round((f.percentile_ms(0.95) or 0) / 1000, 3) for f in figures]
		datasets.append({"name": queue, "values": values})
	return {"labels": labels, "datasets": datasets}
