"""What the Jobs page (``/app/jobkit-jobs``) shows and does: the site's queues, running and scheduled
jobs, failed records, search and stats. ``jobkit.api`` checks permission, then calls these.

Every read is bounded whatever the queues hold: a queue's length and oldest job, the started
registries (as long as there are work-horses), the first ``SCHEDULED_READ`` ids of each scheduled
registry, the stats' minutes of the last hour, database counts on indexed fields. Search by job id
looks the id up (RQ's job hash, the unique key, the records); by method, it reads the method's
recent runs (``stats.recent``, written with each run's stats) and its records: nothing scans job ids.
"""

from datetime import datetime, timedelta, timezone

import frappe
from frappe import _

from jobkit.engine import delayed, progress, skipped, stats, unique
from jobkit.engine.envelope import Envelope
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.limits import gates
from jobkit.engine.public import job_stats
from jobkit.engine.rqcompat import job_status, started_registry_job_id, unix_time
from jobkit.site import health as site_health
from jobkit.site.host import EXECUTE_JOB_PATH, host
from jobkit.site.records import failed_jobs, health_checks
from jobkit.site.records import skipped_runs as skipped_records

RUNNING_READ = 100  # started entries read per queue (one per work-horse, alive or dead)
SCHEDULED_READ = 500  # scheduled ids read per queue: the registry is every site's on a bench
SCHEDULED_SHOWN = 50
SPARK_MINUTES = 60
SEARCH_LIMIT = 50
RANGES = {"1h": timedelta(hours=1), "6h": timedelta(hours=6), "24h": timedelta(hours=24),
	"72h": timedelta(hours=72), "7d": timedelta(days=7)}  # fmt: skip
# The failed-record filters a bulk action takes, and the field each narrows.
FAILED_FILTERS = ("method", "error_type", "queue", "from_date", "to_date")
BULK_ACTIONS = ("retry", "discard")


def overview() -> dict:
	"""Everything the page shows but the stats: one call per refresh."""
	report = site_health.check(health_checks.thresholds())
	connection, site = host.connection, frappe.local.site
	now = datetime.now(timezone.utc)
	minutes = stats.read(connection, site, now - timedelta(minutes=SPARK_MINUTES - 1), now)
	by_queue_minute = stats.sum_by(minutes, "queue", "at")
	moments = stats.span(now - timedelta(minutes=SPARK_MINUTES - 1), now, stats.MINUTE)
	queues = []
	for queue in report.queues:
		spark = [by_queue_minute.get((queue.name, moment), stats.Figures()) for moment in moments]
		queues.append(
			{
				**queue.__dict__,
				"finished_per_minute": [f.runs - f.failures for f in spark],
				"failed_per_minute": [f.failures for f in spark],
			}
		)
	return {
		"verdict": report.verdict,
		"findings": [f.__dict__ for f in report.findings],
		"queues": queues,
		"limits": [limit.__dict__ for limit in report.limits],
		"running": running(),
		"scheduled": scheduled(),
		"failed": {
			"open": frappe.db.count(failed_jobs.DOCTYPE, {"status": failed_jobs.FAILED}),
			"last_24h": frappe.db.count(
				failed_jobs.DOCTYPE,
				{"last_failed_at": (">=", frappe.utils.add_to_date(frappe.utils.now_datetime(), hours=-24))},
			),
		},
		"collected_at": report.collected_at,
	}


def _site_jobs(ids: list[str]) -> list:
	"""This site's RQ jobs among ``ids`` (one pipelined read), skipping ids whose job is gone."""
	from rq.job import Job

	site = frappe.local.site
	jobs = Job.fetch_many(ids, connection=host.connection) if ids else []
	return [job for job in jobs if job is not None and _site_of(job) == site]


def _site_of(job) -> str | None:
	try:
		return job.kwargs.get("site") if job.func_name == EXECUTE_JOB_PATH else None
	except Exception:  # a job whose data does not unpickle here (another app's class): not ours
		return None


def describe(job) -> dict:
	"""What the page shows of an RQ job of this site."""
	kwargs = job.kwargs
	method = kwargs.get("method")
	if not isinstance(method, str):
		method = f"{method.__module__}.{method.__qualname__}"
	envelope = host.envelope_of(job)
	return {
		"rq_id": job.id,
		"method": method,
		"job_name": kwargs.get("job_name") if kwargs.get("job_name") != method else None,
		"user": kwargs.get("user"),
		"queue": host.queue_name(job.origin),
		"status": job_status(job, refresh=False),
		"enqueued_at": unix_time(job.enqueued_at),
		"started_at": unix_time(job.started_at),
		"ended_at": unix_time(job.ended_at),
		"timeout": job.timeout,
		"jobkit": envelope is not None,
		"job_id": envelope.get("id") if envelope else None,
		"attempt": Envelope(envelope).attempt if envelope else None,
		"error": (job.exc_info or "").strip().splitlines()[-1][:300] if job.exc_info else None,
	}


def running() -> list[dict]:
	"""The site's started jobs, with their progress where they report it; the longest-running first."""
	from rq.registry import StartedJobRegistry

	connection = host.connection
	pipe = connection.pipeline(transaction=False)
	for name in host.queue_timeouts():
		pipe.zrange(StartedJobRegistry(queue=host.rq_queue(name)).key, 0, RUNNING_READ - 1)
	ids = [started_registry_job_id(entry.decode()) for entries in pipe.execute() for entry in entries]
	rows = []
	for job in _site_jobs(list(dict.fromkeys(ids))):
		row = describe(job)
		state = progress.read(host, job.id)
		row["progress"] = _progress(state)
		rows.append(row)
	return sorted(rows, key=lambda row: row["started_at"] or 0)


def scheduled() -> dict:
	"""The site's delayed jobs and waiting retries, the soonest due first: the first
	``SCHEDULED_SHOWN`` of the first ``SCHEDULED_READ`` of each queue, and each queue's count."""
	from rq.registry import ScheduledJobRegistry

	connection = host.connection
	names = list(host.queue_timeouts())
	pipe = connection.pipeline(transaction=False)
	for name in names:
		key = ScheduledJobRegistry(queue=host.rq_queue(name)).key
		pipe.zrange(key, 0, SCHEDULED_READ - 1, withscores=True)
		pipe.zcard(key)
	# Limited jobs (jobkit.Limit, jobkit.Rate) wait for their time in their gates' schedule.
	pipe.zrange(gates.LATER, 0, SCHEDULED_READ - 1, withscores=True)
	pipe.zcard(gates.LATER)
	replies = pipe.execute()
	due = {}
	bench_wide = {}
	for name, entries, count in zip([*names, "limited"], replies[::2], replies[1::2], strict=True):
		bench_wide[name] = count
		due.update({rq_id.decode(): score for rq_id, score in entries})
	rows = []
	soonest = sorted(due, key=due.get)
	# A page of jobs at a time, until enough are this site's: one site's bench reads one page.
	for start in range(0, len(soonest), SCHEDULED_SHOWN):
		for job in _site_jobs(soonest[start : start + SCHEDULED_SHOWN]):
			rows.append({**describe(job), "due_at": due[job.id]})
		if len(rows) >= SCHEDULED_SHOWN:
			break
	return {"jobs": rows[:SCHEDULED_SHOWN], "on_bench": bench_wide, "read_per_queue": SCHEDULED_READ}


def stats_for(period: str = "1h", queue: str | None = None, method: str | None = None) -> dict:
	"""The stats of the last ``period`` (one of ``RANGES``), by minute up to 6 hours, else by hour:
	from Redis for up to 8 days (the hours it keeps)."""
	span = RANGES.get(period) if isinstance(period, str) else None
	if span is None:
		raise InvalidArgument(_("period must be one of {0}, not {1}").format(", ".join(RANGES), repr(period)))
	until = datetime.now(timezone.utc)
	summary = job_stats(since=until - span, until=until, queue=queue or None, method=method or None)
	summary["period"] = period
	return summary


def search(text: str) -> dict:
	"""Jobs and records by job id (exact, any state) and by method (a part of its dotted path)."""
	from rq.job import Job

	text = (text or "").strip()
	if not text or len(text) > 200:
		raise InvalidArgument(
			_("Type a job id, an RQ job id or a part of a method's name (1-200 characters)")
		)
	connection, site = host.connection, frappe.local.site
	candidates = [text, host.rq_job_id(text)]
	holder = unique.holder_of(connection, unique.key_for(site, text, unique.UNTIL_EXECUTED))
	if holder:
		candidates.append(holder)
	pipe = connection.pipeline(transaction=False)
	for rq_id in candidates:
		pipe.exists(Job.key_for(rq_id))
	found = [rq_id for rq_id, exists in zip(candidates, pipe.execute(), strict=True) if exists]
	jobs = [describe(job) for job in _site_jobs(list(dict.fromkeys(found)))]
	failed = frappe.get_all(
		failed_jobs.DOCTYPE,
		or_filters={"job_id": text, "rq_job_id": text, "retried_as": text, "name": text},
		fields=["name", "status", "method", "queue", "error", "last_failed_at"],
		limit=SEARCH_LIMIT,
	)
	skipped_runs = frappe.get_all(
		skipped_records.DOCTYPE,
		or_filters={"job_id": text, "rq_job_id": text, "name": text},
		fields=["name", "reason", "method", "queue", "skipped_at"],
		limit=SEARCH_LIMIT,
	)
	methods = stats.methods(connection, site, contains=text, limit=10)
	runs = []
	for method in methods[:5]:
		runs.extend(rq_id for rq_id, _ in stats.recent(connection, site, method, limit=SEARCH_LIMIT))
	known = {job["rq_id"] for job in jobs}
	by_method = [describe(job) for job in _site_jobs([r for r in runs if r not in known])][:SEARCH_LIMIT]
	if methods:
		failed += frappe.get_all(
			failed_jobs.DOCTYPE,
			filters={"method": ("like", f"%{text}%")},
			fields=["name", "status", "method", "queue", "error", "last_failed_at"],
			order_by="last_failed_at desc",
			limit=SEARCH_LIMIT,
		)
	return {
		"text": text,
		"jobs": jobs,
		"methods": methods,
		"runs": sorted(by_method, key=lambda row: -(row["ended_at"] or 0)),
		"failed": list({row.name: row for row in failed}.values())[:SEARCH_LIMIT],
		"skipped": skipped_runs,
	}


def stop_job(rq_id: str) -> str:
	"""RQ's stop-job command for a started job of this site: its work-horse is killed now."""
	from rq.command import send_stop_job_command
	from rq.exceptions import InvalidJobOperation

	job = _own_job(rq_id, "started")
	try:
		send_stop_job_command(host.connection, job.id)
	except InvalidJobOperation:  # marked started, but no worker names it as its current job
		raise InvalidArgument(
			_(
				"{0} is marked started but no worker runs it: the reaper ends it once its lease runs out"
			).format(job.id)
		) from None
	return _("Stop sent to the worker running {0}: it kills the job's work-horse now").format(job.id)


def cancel_job(rq_id: str) -> str:
	"""Ask a started job to stop at its next progress check (cooperative)."""
	job = _own_job(rq_id, "started")
	state = progress.read(host, job.id)
	if state is None or state.get("status") != progress.RUNNING:
		raise InvalidArgument(
			_("{0} reports no progress, so it never checks for a cancel: use Stop to end it now").format(
				job.id
			)
		)
	progress.request_cancel(host, job.id)
	return _("Cancel requested: {0} stops when it next reports progress").format(job.id)


def run_scheduled_now(rq_id: str) -> str:
	job = _own_job(rq_id, "scheduled")
	if _gated(job):
		if not gates.run_now(host.connection, job.id):
			raise InvalidArgument(_("{0} is no longer waiting: it was promoted or cancelled").format(job.id))
		return _("{0} went through its limits: {1}").format(
			job.id, _("queued") if job_status(job) == "queued" else _("it waits for its turn at its limit")
		)
	if not delayed.run_now(host.connection, host.rq_queue(host.queue_name(job.origin)), job.id):
		raise InvalidArgument(_("{0} is no longer waiting: it was promoted or cancelled").format(job.id))
	return _("{0} is on queue {1} now").format(job.id, host.queue_name(job.origin))


def cancel_scheduled(rq_id: str) -> str:
	"""Cancel a delayed job or waiting retry: it never runs, and a Skipped Run record says who
	cancelled it (with its arguments), so the call still ends in an outcome people can find."""
	from jobkit.engine.scripts import RELEASE

	job = _own_job(rq_id, "scheduled")
	envelope = host.envelope_of(job)
	if envelope is None:
		raise InvalidArgument(_("{0} is not a jobkit job: cancel it from the RQ Job list").format(job.id))
	if _gated(job):
		taken = gates.take_back(host.connection, job.id)
	else:
		taken = delayed.take_back(host.connection, host.rq_queue(host.queue_name(job.origin)), job.id)
	if not taken:
		raise InvalidArgument(_("{0} is no longer waiting: it was promoted or cancelled").format(job.id))
	envelope = Envelope(envelope)
	skipped_records.record(skipped.SkippedRun.cancelled(envelope, job.id, frappe.session.user))
	if envelope.unique:  # the key it held goes with it, so the next call of the job is accepted
		RELEASE(host.connection, [envelope.unique["key"]], [job.id])
	job.delete()
	return _("{0} cancelled: a Jobkit Skipped Run records it").format(job.id)


def _gated(job) -> bool:
	"""Whether the job has limits (its delays wait in the gates' schedule, not RQ's)."""
	return bool(host.connection.hexists(job.key, gates.GATES_FIELD))


def _own_job(rq_id: object, status: str):
	from rq.exceptions import NoSuchJobError
	from rq.job import Job

	if not isinstance(rq_id, str) or not rq_id or len(rq_id) > 300:
		raise InvalidArgument(_("rq_id must be an RQ job id"))
	try:
		job = Job.fetch(rq_id, connection=host.connection)
	except NoSuchJobError:
		raise InvalidArgument(
			_("RQ job {0} does not exist (it ended and expired, or never did)").format(rq_id)
		) from None
	if _site_of(job) != frappe.local.site:
		raise InvalidArgument(_("RQ job {0} is not a job of this site").format(rq_id))
	current = job_status(job, refresh=False)
	if current != status:
		raise InvalidArgument(_("RQ job {0} is {1}, not {2}").format(rq_id, current, status))
	return job


def failed_filters(filters: object) -> list:
	"""A bulk action's filters (``FAILED_FILTERS``), checked, as database filters on Failed records."""
	filters = _json(filters) if isinstance(filters, str) else filters
	if not isinstance(filters, dict) or set(filters) - set(FAILED_FILTERS):
		raise InvalidArgument(
			_("filters must be an object with any of {0}").format(", ".join(FAILED_FILTERS))
		)
	out: list = [["status", "=", failed_jobs.FAILED]]
	for field in ("method", "error_type", "queue"):
		value = filters.get(field)
		if value not in (None, ""):
			if not isinstance(value, str) or len(value) > 140:
				raise InvalidArgument(_("{0} must be a text of at most 140 characters").format(field))
			out.append([field, "=", value])
	for field, operator in (("from_date", ">="), ("to_date", "<")):
		value = filters.get(field)
		if value in (None, ""):
			continue
		try:
			moment = frappe.utils.get_datetime(value)
		except Exception:
			moment = None
		if moment is None:
			raise InvalidArgument(_("{0} must be a date or datetime, not {1}").format(field, repr(value)))
		if field == "to_date" and moment.time() == datetime.min.time():
			moment += timedelta(days=1)  # up to a date: the whole of that day
		out.append(["last_failed_at", operator, moment])
	return out


def count_failed(filters: object) -> int:
	return frappe.db.count(failed_jobs.DOCTYPE, failed_filters(filters))


BULK_PAGE = 200


def start_bulk(action: str, filters: object) -> dict:
	"""Enqueue ``action`` ("retry", "discard") on every Failed record matching ``filters``, as a
	background job reporting progress (the caller's tray shows it); what it will act on is counted now."""
	import jobkit

	if action not in BULK_ACTIONS:
		raise InvalidArgument(
			_("action must be one of {0}, not {1}").format(", ".join(BULK_ACTIONS), repr(action))
		)
	filters = _json(filters) if isinstance(filters, str) else filters
	count = count_failed(filters)  # checks them
	if not count:
		raise InvalidArgument(_("No Failed record matches these filters: nothing to {0}").format(action))
	raw = {k: v for k, v in filters.items() if v not in (None, "")}
	handle = jobkit.enqueue(
		"jobkit.site.jobs_page.run_bulk", queue="default", action=action, filters=raw, expected=count
	)
	return {"rq_id": handle.rq_id, "count": count}


def run_bulk(action: str, filters: dict, expected: int = 0) -> dict:
	"""The bulk job: ``action`` on each matching Failed record, a page at a time, each record in its
	own transaction (one refused record does not undo the rest); records are taken in name order, so
	refused ones, which stay Failed, are passed once."""
	import jobkit
	from jobkit.site import actions

	act = actions.retry_failed_job_as_rq_id if action == "retry" else actions.discard_failed_job
	db_filters = failed_filters(filters)
	done, refused, last = 0, {}, ""
	with jobkit.progress(
		total=max(expected, 1), title=_("{0} failed jobs").format(_(action.title()))
	) as tracker:
		while names := frappe.get_all(
			failed_jobs.DOCTYPE, filters=[*db_filters, ["name", ">", last]], pluck="name", order_by="name asc",
			limit=BULK_PAGE,
		):  # fmt: skip
			ok, bad = actions.for_each(names, act)
			done += len(ok)
			refused.update(bad)
			last = names[-1]
			passed = done + len(refused)
			tracker.set(passed, total=max(expected, passed))
			if tracker.cancelled:
				break
	return {"done": done, "refused": len(refused), "refusals": dict(list(refused.items())[:20])}


def _json(text: str):
	import json

	try:
		return json.loads(text or "{}")
	except ValueError:
		return None


def _progress(state: dict | None) -> dict | None:
	if not state:
		return None
	return {
		key: state.get(key) for key in ("status", "done", "total", "percent", "stage", "title", "updated_at")
	}
