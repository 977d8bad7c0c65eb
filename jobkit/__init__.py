"""jobkit: production-grade background jobs for Frappe, and for any RQ application.

``import jobkit`` needs only rq, redis and croniter: inside a Frappe site the Frappe host is used
with no set-up; elsewhere ``jobkit.configure(redis_url=..., namespace=...)`` (or the
``JOBKIT_REDIS_URL`` / ``JOBKIT_NAMESPACE`` environment variables) selects the plain-RQ host.
"""

import importlib.util
import sys
from collections.abc import Callable

from jobkit import health  # jobkit.health.check(): the job health report (engine only, no frappe)
from jobkit.engine import batches as _batches
from jobkit.engine import context as _context
from jobkit.engine import delayed as _delayed
from jobkit.engine import progress as _progress
from jobkit.engine import reaper as _reaper
from jobkit.engine import unique as _unique
from jobkit.engine.batch_runner import ChunkContext, current_chunk
from jobkit.engine.batches import BatchHandle, BatchNotFound, Query
from jobkit.engine.context import JobContext, configure, current_job, get_host
from jobkit.engine.deadletter import DeadLetter
from jobkit.engine.deadletter_store import DeadLetters
from jobkit.engine.enqueue import enqueue as _enqueue
from jobkit.engine.errors import (
	DuplicateJob,
	FinalFailure,
	InvalidArgument,
	InvalidMethod,
	InvalidTimeout,
	JobkitError,
	LockNotOwned,
	LockTimeout,
	NotConfigured,
	PayloadTooLarge,
	RetryLater,
	UnknownDeadLetter,
	UnknownQueue,
	UnknownSkippedRun,
	UnserializableArguments,
	WorkerLost,
)
from jobkit.engine.handle import JobHandle
from jobkit.engine.host import Host, RQHost
from jobkit.engine.jobfunction import JobFunction, job, light
from jobkit.engine.locks import Lock, lock
from jobkit.engine.progress import Progress
from jobkit.engine.reaper import Reaped
from jobkit.engine.record_store import store_of as _store_of
from jobkit.engine.retry import Retry
from jobkit.engine.skipped import SkippedRun, SkippedRuns

__version__ = "0.1.0"

__all__ = [
	"BatchHandle",
	"BatchNotFound",
	"ChunkContext",
	"DeadLetter",
	"DeadLetters",
	"DuplicateJob",
	"FinalFailure",
	"Host",
	"InvalidArgument",
	"InvalidMethod",
	"InvalidTimeout",
	"JobContext",
	"JobFunction",
	"JobHandle",
	"JobkitError",
	"Lock",
	"LockNotOwned",
	"LockTimeout",
	"NotConfigured",
	"PayloadTooLarge",
	"Progress",
	"Query",
	"RQHost",
	"Reaped",
	"Retry",
	"RetryLater",
	"SkippedRun",
	"SkippedRuns",
	"UnknownDeadLetter",
	"UnknownQueue",
	"UnknownSkippedRun",
	"UnserializableArguments",
	"WorkerLost",
	"__version__",
	"batch",
	"cancel_job",
	"check_hooks",
	"configure",
	"current_chunk",
	"current_job",
	"dead_letters",
	"enqueue",
	"get_host",
	"health",
	"is_enqueued",
	"job",
	"light",
	"lock",
	"progress",
	"progress_of",
	"promote_due",
	"reap",
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
	``enqueue_after_commit`` waits for the caller's transaction to commit. ``on_success(job,
	connection, result)`` and ``on_failure(job, connection, type, value, traceback)`` run in the
	worker, inside the job's context. ``now=True`` runs the job here and now, through the same
	wrapper. Everything is validated before anything is written, and errors subclass
	``JobkitError``.
	"""
	return _enqueue(
		get_host(),
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
		kwargs=kwargs,
	)


def is_enqueued(job_id: str) -> bool:
	"""Whether a job enqueued with this ``job_id`` is waiting in a queue or running."""
	host = get_host()
	return _unique.is_enqueued(host.connection, host.namespace, job_id, host.rq_job_id(job_id))


def promote_due() -> int:
	"""Move due delayed jobs onto their queues (safe to run from many processes at once)."""
	host = get_host()
	return _delayed.promote_due(host.connection, [host.rq_queue(name) for name in host.queue_timeouts()])


def reap(limit: int = _reaper.REAP_LIMIT) -> list[Reaped]:
	"""Retry, or record as failed (``WorkerLost``), the runs whose process died without an outcome.

	A run is found once its lease (``lease_seconds``, 60 s by default) has gone unrenewed. Safe to
	call from many processes at once; the promoter and, on a site, the scheduler call it every minute.
	"""
	if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
		raise InvalidArgument(f"limit must be a whole number of at least 1, not {limit!r}")
	return _reaper.reap(get_host(), limit=limit)


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
	known = {
		"chunk_size", "queue", "timeout", "max_parallel", "retry", "per_item", "commit", "on_complete",
		"on_success", "on_failure", "title", "reference_doctype", "reference_name",
	}  # fmt: skip
	settings = {name: options.pop(name) for name in list(options) if name in known}
	return _batches.create(get_host(), method, items=items, query=query, kwargs=options, **settings)


def progress(
	total: int | None = None,
	*,
	title: str | None = None,
	reference_doctype: str | None = None,
	reference_name: str | None = None,
	rate: float | None = None,
	keep_seconds: int | None = None,
) -> Progress:
	"""Report the running job's progress; use it as a context manager (it sends the final state).

	``with jobkit.progress(total=len(rows), title="Import") as p: ... p.advance() ... if p.cancelled``.
	``advance(n=1)``, ``set(done, total=None, stage=None)``, ``cancelled``, ``close(status, reason)``.
	States go out at most ``rate`` a second (``progress_rate``, 4 by default; the first and the last
	always), to the job owner's room or the reference document's, and the last one stays readable
	for ``keep_seconds`` (``progress_keep_seconds``, an hour by default) after the end.
	"""
	return _progress.start(
		total,
		title=title,
		reference_doctype=reference_doctype,
		reference_name=reference_name,
		rate=rate,
		keep_seconds=keep_seconds,
	)


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
		"`bench --site S jobkit retry NAME`, jobkit.failed_jobs.retry(name))",
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


def check_hooks(apps: list[str] | None = None) -> list:
	"""Check every installed app's ``scheduler_events`` on the current Frappe site (or ``apps``).

	One report per entry: app, event, cron, method, queue and timeout (of the hand-off for an
	``@jobkit.job`` target), next three runs in the site's time zone, and findings (errors:
	invalid cron, target that does not import or needs arguments, a method registered twice;
	warnings: heavy-looking ``all`` entries, ``cron`` entries left on the 300 s default queue).
	"""
	from jobkit import hooks_check

	return hooks_check.check_hooks(apps)


def __getattr__(name: str):
	# DocTypeQuery needs frappe: imported when first asked for (and not in __all__), so that
	# `import jobkit` and `from jobkit import *` never need it.
	if name == "DocTypeQuery":
		if sys.modules.get("frappe") is None and importlib.util.find_spec("frappe") is None:
			raise NotConfigured(
				"jobkit.DocTypeQuery pages a Frappe DocType and needs a Frappe site; elsewhere pass "
				"query= an object with keys_after(after, limit) and load(after, upto) (jobkit.Query)"
			)
		from jobkit.doctype_query import DocTypeQuery

		return DocTypeQuery
	raise AttributeError(f"module 'jobkit' has no attribute {name!r}")


def _frappe_site_host():
	"""The Frappe host while a Frappe site is active in this context (never imports frappe)."""
	frappe = sys.modules.get("frappe")
	if frappe is None or not getattr(getattr(frappe, "local", None), "site", None):
		return None
	from jobkit.frappe_host import host

	return host


_context.register_provider(_frappe_site_host)

if "frappe" in sys.modules:  # inside a Frappe process: keep frappe's is_job_enqueued truthful
	from jobkit import frappe_compat as _frappe_compat

	_frappe_compat.install()
