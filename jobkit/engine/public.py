"""The functions ``jobkit`` exports: each finds the current host (``context.get_host``) and hands
its arguments to the module that does the work."""

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from jobkit.engine import batches as _batches
from jobkit.engine import delayed as _delayed
from jobkit.engine import enqueue as _enqueue
from jobkit.engine import pausing as _pausing
from jobkit.engine import progress as _progress
from jobkit.engine import reaper as _reaper
from jobkit.engine import runner as _runner
from jobkit.engine import stats as _stats
from jobkit.engine import unique as _unique
from jobkit.engine.batches import BatchHandle, Query
from jobkit.engine.context import configure, current_job, get_host
from jobkit.engine.dead_letters import DeadLetters
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.handle import JobHandle
from jobkit.engine.numbers import whole_number
from jobkit.engine.reaper import Reaped
from jobkit.engine.record_store import store_of as _store_of
from jobkit.engine.skipped import SkippedRuns

__all__ = [
	"batch",
	"cancel_job",
	"configure",
	"current_job",
	"dead_letters",
	"enqueue",
	"get_host",
	"is_enqueued",
	"pause_queue",
	"paused_queues",
	"progress",
	"progress_of",
	"promote_due",
	"reap",
	"resume_queue",
	"skipped_runs",
]


def enqueue(
	method: str | Callable,
	queue: str = "default",
	timeout: int | float | None = None,
	job_id: str | None = None,
	at_front: bool = False,
	enqueue_after_commit: bool = False,
	on_success: str | Callable | None = None,
	on_failure: str | Callable | None = None,
	*,
	unique: str | bool | None = None,
	on_conflict: str | None = None,
	unique_ttl: int | float | None = None,
	delay: int | float | None = None,
	at=None,
	retry=None,
	now: bool = False,
	job_name: str | None = None,
	is_async: bool = True,
	concurrency=None,
	rate=None,
	**kwargs,
) -> JobHandle:
	"""Enqueue ``method(**kwargs)`` for a background worker; a drop-in for ``frappe.enqueue``.

	``queue`` and ``timeout`` follow Frappe (short 300 s, default 300 s, long 1500 s, and the
	``workers`` section of common_site_config.json); ``job_id`` is namespaced by site.
	With a ``job_id`` the job is unique (``unique="until_executed"`` unless told otherwise; see
	``jobkit.engine.unique`` for the lock types and ``on_conflict`` strategies), claimed and
	enqueued in one atomic step; ``unique=False`` turns that off. ``delay`` (seconds) or ``at`` (a
	datetime; naive means the site's time zone under Frappe) makes the job wait until it is due
	(see ``promote_due``).
	``concurrency=jobkit.Limit("shopify::{shop}", 2)`` runs at most 2 of the key at once, and
	``rate=jobkit.Rate("shopify", 40, per=60)`` starts at most 40 in any 60 s (keys are format
	strings over the job's keyword arguments, per site): a job over either waits, in no queue and
	holding no worker, until a place frees (see ``jobkit.engine.limits``).
	``enqueue_after_commit`` waits for the caller's transaction to commit. ``on_success(job,
	connection, result)`` and ``on_failure(job, connection, type, value, traceback)`` run in the
	worker, inside the job's context. ``now=True`` runs the job here and now, through the same
	wrapper; so do ``is_async=False`` (or ``async=False``, as ``frappe.enqueue`` spells it too) and,
	as under ``frappe.enqueue``, every enqueue without ``delay``/``at`` while the host runs all
	work in place (Frappe: during ``bench migrate``). Everything is validated before anything is
	written, and errors subclass ``JobkitError``.
	"""
	host = get_host()
	if "async" in kwargs:  # frappe.enqueue's older spelling, a keyword Python cannot name
		is_async = kwargs.pop("async")
	if not isinstance(is_async, bool):
		raise InvalidArgument(f"is_async must be True or False, not {is_async!r}")
	now = now or not is_async or (delay is None and at is None and host.runs_in_place())
	call = _enqueue.prepare(
		host,
		method,
		queue=queue,
		timeout=timeout,
		job_id=job_id,
		unique_lock=unique,
		on_conflict=on_conflict,
		unique_ttl=unique_ttl,
		delay=delay,
		at=at,
		retry=retry,
		at_front=at_front,
		enqueue_after_commit=enqueue_after_commit,
		on_success=on_success,
		on_failure=on_failure,
		now=now,
		job_name=job_name,
		concurrency=concurrency,
		rate=rate,
		kwargs=kwargs,
	)
	if isinstance(call, JobHandle):  # a copy of the job holds its key: its handle
		return call
	return _runner.run_now(call) if now else _enqueue.submit(call)


def is_enqueued(job_id: str) -> bool:
	"""Whether a job enqueued with this ``job_id`` is waiting in a queue or running."""
	host = get_host()
	return _unique.is_enqueued(host.connection, host.namespace, job_id, host.rq_job_id(job_id))


def pause_queue(queue: str) -> list[str]:
	"""Pause ``queue``: jobkit's workers, on every host, start no job from it until ``resume_queue``;
	enqueues go on and running jobs finish. Returns the names of the live workers on the queue that
	do not honour a pause (stock RQ workers, such as Frappe's `bench worker`), which go on."""
	host = get_host()
	rq_queue = host.rq_queue(_enqueue.known_queue(host, queue))
	_pausing.pause(host.connection, rq_queue.key)
	return _pausing.unaware_workers(rq_queue)


def resume_queue(queue: str) -> None:
	"""Let jobkit's workers start jobs from ``queue`` again."""
	host = get_host()
	_pausing.resume(host.connection, host.rq_queue(_enqueue.known_queue(host, queue)).key)


def paused_queues() -> list[str]:
	"""The names of the host's queues that are paused."""
	host = get_host()
	paused = _pausing.paused(host.connection)
	return [name for name in host.queue_timeouts() if host.rq_queue(name).key in paused]


def job_stats(
	since: datetime | None = None,
	until: datetime | None = None,
	*,
	resolution: str | None = None,
	queue: str | None = None,
	method: str | None = None,
) -> dict:
	"""Runs, failures, durations (total, p50, p95) and waits of the namespace's jobs, per queue and
	method and as a series, from ``since`` (default: an hour ago) to ``until`` (default: now).

	Minutes are kept 72 hours, hours 8 days; ``resolution`` defaults to minutes for up to 6 hours,
	else hours. Aware datetimes (a naive one is read as UTC)."""
	until = _aware(until) if until is not None else datetime.now(timezone.utc)
	since = _aware(since) if since is not None else until - timedelta(hours=1)
	if since > until:
		raise InvalidArgument(f"since ({since.isoformat()}) is after until ({until.isoformat()})")
	if resolution is None:
		resolution = _stats.MINUTE if until - since <= timedelta(hours=6) else _stats.HOUR
	host = get_host()
	return _stats.summary(
		host.connection, host.namespace, since, until, resolution, queue=queue, method=method
	)


def _aware(moment: datetime) -> datetime:
	if not isinstance(moment, datetime):
		raise InvalidArgument(f"since and until must be datetimes, not {type(moment).__name__}")
	return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def promote_due() -> int:
	"""Move due delayed jobs onto their queues, and run a pass of the gates' timer (limited jobs due,
	let in, or past their wait: recorded as failed jobs); safe to run from many processes at once.
	The number of jobs moved or let in."""
	from jobkit.engine import waits
	from jobkit.engine.limits import gates

	host = get_host()
	moved = _delayed.promote_due(host.connection, [host.rq_queue(name) for name in host.queue_timeouts()])
	done = gates.tick(host.connection)
	waits.record(host)
	return moved + done.promoted + done.let_in


def reap(limit: int = _reaper.REAP_LIMIT) -> list[Reaped]:
	"""Retry, or record as failed (``WorkerLost``), the runs whose process died without an outcome.

	A run is found once its lease (``lease_seconds``, 60 s by default) has gone unrenewed. Safe to
	call from many processes at once; the promoter and, on a site, the scheduler call it every minute.
	"""
	return _reaper.reap(get_host(), limit=whole_number("limit", limit))


def batch(method: str | Callable, *, items=None, query: Query | None = None, **options) -> BatchHandle:
	"""Run ``method`` over many items in chunks of jobs; return a handle (id, status, counts).

	``method(chunk, **kwargs)`` gets a list of items (``per_item=True``: ``method(item, **kwargs)``
	per item, a failing item rolled back and recorded while the rest go on). Give ``items=`` (a
	list) or ``query=`` (a ``jobkit.Query``; on a site ``jobkit.DocTypeQuery``). Options:
	``chunk_size`` (100), ``queue``, ``timeout`` (per chunk), ``max_parallel`` (4 chunks queued or
	running at a time; None: no limit), ``retry`` (per chunk; default: 3 attempts for a lost
	worker or a transient error), ``commit`` ("chunk" or "item"), ``on_complete``/``on_success``/
	``on_failure`` (dotted paths called once with the summary), ``title``, ``reference_doctype``/
	``reference_name``; other keyword arguments go to ``method``.
	"""
	settings = {name: options.pop(name) for name in list(options) if name in _batches.BATCH_OPTIONS}
	return _batches.create(get_host(), method, items=items, query=query, kwargs=options, **settings)


# ``jobkit.progress``: the tracker of the job running here.
progress = _progress.start


def progress_of(rq_id: str) -> dict | None:
	"""The last progress state a job run (its RQ id) reported, or None (none, or no longer kept)."""
	return _progress.read(get_host(), _progress.checked_run_id(rq_id))


def cancel_job(rq_id: str) -> None:
	"""Ask a running job to stop: its progress tracker's ``cancelled`` turns True (cooperative)."""
	_progress.request_cancel(get_host(), _progress.checked_run_id(rq_id))


def dead_letters() -> DeadLetters:
	"""The failed jobs of the plain-RQ host, kept in Redis: ``ids()``, ``list()``, ``get(id)``,
	``retry(id)``, ``discard(id)``. On a Frappe site they are "Jobkit Failed Job" records."""
	return _store_of(
		get_host(),
		"dead_letters",
		DeadLetters,
		"failed jobs elsewhere: on a Frappe site they are 'Jobkit Failed Job' records (desk list, "
		"`bench --site S jobkit retry NAME`, jobkit.site.actions.retry_failed_job(name))",
	)


def skipped_runs() -> SkippedRuns:
	"""The runs the plain-RQ host did not start on purpose, kept in Redis: ``ids()``, ``list()``,
	``get(id)``, ``discard(id)`` (a scheduled run overlapping its previous one; a retry superseded
	by a newer copy of its job, with the arguments that did not run). On a Frappe site they are
	"Jobkit Skipped Run" records."""
	return _store_of(
		get_host(),
		"skipped_runs",
		SkippedRuns,
		"skipped runs elsewhere: on a Frappe site they are 'Jobkit Skipped Run' records (desk list)",
	)
