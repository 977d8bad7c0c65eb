"""``@jobkit.job``: enqueue defaults on a function, and the hand-off of its scheduler runs.

The decorated function still runs when called (tests, ``bench execute``), under its lock if it
has one. ``fn.enqueue(**kwargs)`` enqueues it with the declared defaults, explicit arguments
winning. When the host's scheduler calls it as a scheduled target (Frappe: a ``scheduler_events``
entry run by ``run_scheduled_job`` in a default-queue worker), it does not run there: the run is
handed off to the declared queue and timeout as a unique job with a fixed id, so a run never
overlaps the previous one, on any number of hosts and schedulers, and a run skipped because the
previous one is still queued or running is recorded by the host.
"""

import functools

from jobkit.engine import context, defaults, limits, locks, public, unique
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.retries import Retry
from jobkit.engine.skipped import SkippedRun

# The job id of a scheduled target's handed-off runs (one per method; namespaced by site).
SCHEDULED_JOB_ID = "scheduled::{method}"

# jobkit.enqueue options a decorator may set as defaults.
DEFAULT_OPTIONS = (
	"queue",
	"timeout",
	"job_id",
	"unique",
	"on_conflict",
	"unique_ttl",
	"retry",
	"at_front",
	"enqueue_after_commit",
	"on_success",
	"on_failure",
	"job_name",
	"concurrency",
	"rate",
)


class JobFunction:
	"""A function with jobkit defaults: call it to run it, ``.enqueue(...)`` to queue it."""

	def __init__(self, fn, options: dict, lock: bool | str | None):
		if not callable(fn):
			raise InvalidArgument(f"@jobkit.job decorates a function, not {type(fn).__name__}")
		functools.update_wrapper(self, fn)
		self.fn = fn
		self.path = f"{fn.__module__}.{fn.__qualname__}"
		self.options = options
		self.lock = lock
		self._body = fn
		if lock:
			# Held as long as its holder's process lives (renewed), freed within a lease after it dies.
			name = self.path if lock is True else lock
			self._body = locks.Lock(name, ttl=defaults.LEASE_SECONDS, auto_extend=True)(fn)

	def __repr__(self) -> str:
		return f"<jobkit.job {self.path} {self.options}>"

	def __call__(self, *args, **kwargs):
		if not args and not kwargs:
			host = context.find_host()
			if host is not None and host.scheduler_target() == self.path:
				return self.hand_off(host)
		return self._body(*args, **kwargs)

	def enqueue(self, **kwargs):
		"""``jobkit.enqueue`` of this function with its defaults; explicit arguments win.

		A ``job_id`` default may be a format string over the job's keyword arguments
		(``"sync::{customer}"``).
		"""
		options = {**self.options, **kwargs}
		if "job_id" in self.options and "job_id" not in kwargs:
			options["job_id"] = _formatted_job_id(self.options["job_id"], kwargs, self.path)
		return public.enqueue(self.path, **options)

	def hand_off(self, host):
		"""Enqueue this scheduled run on its own queue; record it as skipped if one is still going."""
		lock_type = self.options.get("unique")
		handle = self.enqueue(
			job_id=SCHEDULED_JOB_ID.format(method=self.path),
			unique=lock_type if lock_type not in (None, False) else unique.UNTIL_EXECUTED,
			on_conflict=unique.SKIP,
			# At once: the outcome (queued, or skipped) is recorded now, in the scheduler's run.
			enqueue_after_commit=False,
		)
		if handle.duplicate:
			holder_status = unique.holder_status(host.connection, handle.rq_id)
			host.record_skipped_run(SkippedRun.overlap(self.path, handle.id, handle.rq_id, holder_status))
		return handle


def job(
	fn=None,
	*,
	lock: bool | str | None = None,
	**options,
):
	"""Declare a job's defaults on its function: ``@jobkit.job(queue="long", timeout=3600, retry=3)``.

	Options are those of ``jobkit.enqueue`` (queue, timeout, job_id, unique, on_conflict,
	unique_ttl, retry, at_front, enqueue_after_commit, on_success, on_failure, job_name, concurrency,
	rate).
	``lock=True`` (or a lock name, a format string over the function's arguments) makes every run
	hold a ``jobkit.lock``, so it never runs twice at once, however it was started.
	"""
	unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
	if unknown:
		raise InvalidArgument(
			f"@jobkit.job does not take {', '.join(unknown)}: its options are lock and "
			f"{', '.join(DEFAULT_OPTIONS)}. Job arguments are given to .enqueue(...)"
		)
	if "retry" in options:
		options["retry"] = Retry.coerce(options["retry"])
	# Checked here, where the mistake is made, not at the first enqueue.
	limits.rules.coerce("concurrency", options.get("concurrency"), limits.Limit)
	limits.rules.coerce("rate", options.get("rate"), limits.Rate)
	if lock is not None and not isinstance(lock, bool | str):
		raise InvalidArgument(f"lock= is True or a lock name, not {lock!r}")

	def decorate(function):
		return JobFunction(function, options, lock)

	return decorate(fn) if fn is not None else decorate


# Set by @jobkit.light on a scheduled target that is quick by design.
LIGHT_ATTRIBUTE = "jobkit_light"


def light(fn):
	"""Mark a scheduled target as quick by design: it runs in the scheduler's own slot, and
	``jobkit check`` does not warn about its queue or timeout. The function is otherwise unchanged."""
	setattr(fn, LIGHT_ATTRIBUTE, True)
	return fn


def _formatted_job_id(template: object, kwargs: dict, path: str) -> object:
	if not isinstance(template, str):
		return template
	try:
		return template.format(**kwargs)
	except (KeyError, IndexError) as e:
		raise InvalidArgument(
			f"job_id {template!r} of {path} uses {e}, which this enqueue does not pass: give it "
			"as a keyword argument, or pass job_id= explicitly"
		) from None
