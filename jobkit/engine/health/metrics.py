"""A health report in Prometheus' text exposition format (version 0.0.4), for scraping.

Written by hand rather than with prometheus-client: the format is a few lines per metric, and
jobkit ships nothing beyond what Frappe already installs.
"""

from jobkit.engine import stats
from jobkit.engine.findings import SEVERITY_ORDER
from jobkit.engine.health.collecting import Report

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# Gauges per queue: metric name (after "jobkit_"), help text, QueueHealth attribute.
PER_QUEUE = (
	("queue_pending", "Jobs waiting in the queue.", "pending"),
	("queue_oldest_wait_seconds", "How long the oldest waiting job has waited.", "oldest_wait_seconds"),
	("workers", "Workers listening to the queue.", "workers"),
	("workers_busy", "Workers running a job.", "busy"),
	("workers_idle", "Workers waiting for a job.", "idle"),
	("workers_stale", "Workers whose heartbeat stopped.", "stale"),
	("jobs_stuck", "Started jobs whose worker died, or that run well past their timeout.", "stuck"),
	("jobs_failed_last_hour", "Jobs that failed in the last hour.", "failed_last_hour"),
	("jobs_delayed_overdue", "Delayed jobs past due and not promoted.", "delayed_overdue"),
	("queue_paused", "1 while the queue is paused (jobkit's workers start none of its jobs).", "paused"),
)


def render(report: Report, namespace: str) -> str:
	"""The report's gauges, each labelled with the namespace (the site) and, per queue, the queue."""
	site = _label(namespace)
	lines: list[str] = []

	def gauge(name: str, help_text: str, samples: list[tuple[str, float]]) -> None:
		lines.append(f"# HELP jobkit_{name} {help_text}")
		lines.append(f"# TYPE jobkit_{name} gauge")
		lines.extend(f"jobkit_{name}{{{labels}}} {_number(value)}" for labels, value in samples)

	def per_queue(attribute: str) -> list[tuple[str, float]]:
		return [
			(f'site="{site}",queue="{_label(q.name)}"', getattr(q, attribute) or 0) for q in report.queues
		]

	site_only = f'site="{site}"'
	gauge(
		"verdict",
		"Job health verdict: 0 OK, 1 Warning, 2 Critical.",
		[(site_only, SEVERITY_ORDER[report.verdict])],
	)
	gauge("findings", "Findings of the last health check.", [(site_only, len(report.findings))])
	for name, help_text, attribute in PER_QUEUE:
		gauge(name, help_text, per_queue(attribute))
	gauge(
		"redis_round_trip_seconds", "One Redis round trip.", [(site_only, report.redis.round_trip_ms / 1000)]
	)
	gauge(
		"redis_used_memory_bytes", "Memory used by the queue Redis.", [(site_only, report.redis.used_memory)]
	)
	return "\n".join(lines) + "\n"


def render_stats(totals: dict[tuple[str, str], "stats.Figures"], namespace: str) -> str:
	"""Every queue and method's lifetime runs, failures, waits and duration histogram (``stats.totals``)."""
	site = _label(namespace)
	rows = sorted(totals.items())
	lines: list[str] = []

	def labels(queue: str, method: str, extra: str = "") -> str:
		return f'site="{site}",queue="{_label(queue)}",method="{_label(method)}"{extra}'

	def counter(name: str, help_text: str, value) -> None:
		lines.append(f"# HELP jobkit_{name} {help_text}")
		lines.append(f"# TYPE jobkit_{name} counter")
		lines.extend(f"jobkit_{name}{{{labels(q, m)}}} {_number(value(f))}" for (q, m), f in rows)

	counter("job_runs_total", "Runs ended, by queue and method.", lambda f: f.runs)
	counter("job_failures_total", "Runs that failed (retried or not).", lambda f: f.failures)
	counter("job_wait_seconds_total", "Time runs waited in their queue before they started.",
		lambda f: f.wait_ms / 1000)  # fmt: skip
	lines.append("# HELP jobkit_job_duration_seconds How long runs took.")
	lines.append("# TYPE jobkit_job_duration_seconds histogram")
	for (queue, method), figures in rows:
		seen = 0
		for bound, count in zip((*stats.BUCKETS_MS, None), figures.buckets, strict=True):
			seen += count
			le = "+Inf" if bound is None else repr(bound / 1000)
			bucket = labels(queue, method, f',le="{le}"')
			lines.append(f"jobkit_job_duration_seconds_bucket{{{bucket}}} {seen}")
		own = labels(queue, method)
		lines.append(f"jobkit_job_duration_seconds_sum{{{own}}} {figures.duration_ms / 1000!r}")
		lines.append(f"jobkit_job_duration_seconds_count{{{own}}} {figures.runs}")
	return "\n".join(lines) + "\n"


def _label(value: str) -> str:
	return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
	return repr(float(value)) if isinstance(value, float) else str(int(value))  # a bool as 0 or 1
