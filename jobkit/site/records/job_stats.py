"""Jobkit Job Stat records: the stats' hours (``jobkit.engine.stats``) rolled up from Redis, where
they live 8 days, into the database, where Log Settings keeps them ``KEEP_DAYS``.

``roll_up`` runs hourly; it writes each complete hour not yet written (after a scheduler outage,
every hour Redis still holds), one record per queue and method, and writes an hour again in place
if asked twice: a record's name is its hour, queue and method.
"""

import hashlib
from datetime import datetime, timedelta, timezone

import frappe

from jobkit.engine import keys, stats
from jobkit.site import retention
from jobkit.site.text import site_timezone

DOCTYPE = "Jobkit Job Stat"
KEEP_DAYS = 90
FIELDS = ("runs", "failures", "total_seconds", "mean_ms", "p50_ms", "p95_ms", "mean_wait_ms")


def roll_up(now: datetime | None = None) -> int:
	"""Write every complete hour since the last one written; the number of records written."""
	from frappe.utils.background_jobs import get_redis_conn

	connection, site = get_redis_conn(), frappe.local.site
	now = now or datetime.now(timezone.utc)
	last_complete = stats.truncate(now, stats.HOUR) - timedelta(hours=1)
	marker = keys.stats_rolled_up(site)
	done = connection.get(marker)
	first = now - timedelta(seconds=stats.HOURS_KEPT)
	if done:
		written_up_to = datetime.strptime(done.decode(), "%Y%m%d%H").replace(tzinfo=timezone.utc)
		first = max(first, written_up_to + timedelta(hours=1))
	written = 0
	for hour in stats.span(first, last_complete, stats.HOUR):
		written += write_hour(connection, site, hour)
		frappe.db.commit()
		connection.set(marker, hour.strftime("%Y%m%d%H"), ex=stats.HOURS_KEPT)
	return written


def write_hour(connection, site: str, hour: datetime) -> int:
	buckets = stats.read(connection, site, hour, hour, stats.HOUR)
	local_hour = hour.astimezone(site_timezone()).replace(tzinfo=None)
	for bucket in buckets:
		figures = bucket.figures.as_dict()
		values = {field: figures[field] or 0 for field in FIELDS}
		values["failure_rate"] = (figures["failure_rate"] or 0) * 100
		name = record_name(hour, bucket.queue, bucket.method)
		if frappe.db.exists(DOCTYPE, name):
			frappe.db.set_value(DOCTYPE, name, values, update_modified=False)
		else:
			doc = frappe.get_doc(
				{
					"doctype": DOCTYPE,
					"hour": local_hour,
					"queue": bucket.queue,
					"method": bucket.method,
					**values,
				}
			)
			doc.insert(ignore_permissions=True, set_name=name)
	return len(buckets)


def record_name(hour: datetime, queue: str, method: str) -> str:
	digest = hashlib.sha1(f"{queue}|{method}".encode()).hexdigest()[:12]
	return f"{hour:%Y%m%d%H}-{digest}"


def prune(days: int) -> int:
	return retention.prune(DOCTYPE, days)
