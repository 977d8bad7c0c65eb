"""Progress of a running job: kept in Redis so a reload shows it, published to its owner only.

``jobkit.progress(total=..., title=...)`` inside a jobkit job returns a ``Progress`` tracker.
``advance()`` and ``set()`` only count and read the clock; the state is written (one pipelined
round trip: the state, the owner's index of runs, the cancel flag) and published at most
``rate`` times a second, and always for the first and the last state. The last state stays
readable for ``keep_seconds`` after the end (``read``, ``for_owner``), so a page opened late or
reloaded shows where the job stands, or how it ended.

Delivery goes through the host: the job owner's room (a Frappe user room; on the plain-RQ host
the room ``user:<owner>`` on the namespace's events channel), or the reference document's room
when one is given; never a site-wide room. Cancel is cooperative: ``request_cancel`` sets a
flag that the tracker reads at most every ``CANCEL_CHECK_SECONDS`` and exposes as ``cancelled``.
"""

import contextvars
import json
import time
from contextlib import contextmanager
from typing import Any

from jobkit.engine import context, keys
from jobkit.engine.errors import InvalidArgument, NotConfigured
from jobkit.engine.host import Host
from jobkit.engine.numbers import is_number, whole_number

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"
STATUSES = (RUNNING, DONE, FAILED, CANCELLED)
# The realtime event a progress state goes out as.
EVENT = keys.PROGRESS_EVENT
# The record a job works on, when its job says so (jobkit.enqueue_doc, queue_action): its progress
# goes to that record's room unless the job names another.
_reference: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar(
	"jobkit_progress_reference", default=None
)
# How often a tracker reads its cancel flag from Redis (seconds).
CANCEL_CHECK_SECONDS = 0.1
# While a job runs, its state outlives the last update by this long (a job killed mid-way
# leaves a "running" state that ends with it).
RUNNING_STATE_SECONDS = 24 * 3600
# Text limits of what a job reports (a title, a stage, the reason of a failure).
MAX_TITLE_LENGTH = 140
MAX_STAGE_LENGTH = 140
MAX_REASON_LENGTH = 300
# Runs listed per owner (``for_owner``).
OWNER_INDEX_LIMIT = 50
# The longest run id (an RQ id) looked up: a namespace, a job id of up to 200 characters that may
# be percent-quoted to three times that, and a token.
MAX_RUN_ID_LENGTH = 1000


# Trackers not closed yet, by run: the runner closes them when their job ends (see close_open).
_open: dict[str, list["Progress"]] = {}


class Progress:
	"""A job's progress tracker; use it as a context manager, which sends the final state."""

	def __init__(
		self,
		host: Host,
		job: context.JobContext,
		*,
		total: int | None = None,
		title: str | None = None,
		reference_doctype: str | None = None,
		reference_name: str | None = None,
		rate: float | None = None,
		keep_seconds: int | None = None,
	):
		if total is not None:
			total = _count("total", total)
		if title is not None and (not isinstance(title, str) or len(title) > MAX_TITLE_LENGTH):
			raise InvalidArgument(
				f"title must be text of at most {MAX_TITLE_LENGTH} characters, not {title!r}"
			)
		if (reference_doctype is None) != (reference_name is None):
			raise InvalidArgument("give reference_doctype and reference_name together, or neither")
		if reference_doctype is None and (default := _reference.get()):
			reference_doctype, reference_name = default
		rate = host.progress_rate if rate is None else rate
		if not is_number(rate) or rate <= 0:
			raise InvalidArgument(f"rate must be a positive number of messages a second, not {rate!r}")
		keep_seconds = host.progress_keep_seconds if keep_seconds is None else keep_seconds
		whole_number("keep_seconds", keep_seconds)
		self._host = host
		self.run_id = job.rq_id or job.id
		self.job = job
		self.owner = job.user or None
		self.title = title or job.method
		self.reference = (reference_doctype, reference_name) if reference_doctype else None
		self.total = total
		self.done = 0
		self.stage: str | None = None
		self.status = RUNNING
		self.reason: str | None = None
		self.published = 0  # messages sent, for whoever wants to know what the throttle let through
		self._interval = 1.0 / rate
		self._keep_seconds = keep_seconds
		self._started = time.time()
		self._started_monotonic = time.monotonic()
		self._next_publish = 0.0  # the first state goes out at once
		self._cancelled = False
		self._cancel_checked = 0.0
		self._cancel_key = keys.progress_cancel(host.namespace, self.run_id)
		self._publish()
		_open.setdefault(self.run_id, []).append(self)

	def __repr__(self) -> str:
		return f"<Progress {self.run_id!r} {self.done}/{self.total} {self.status}>"

	def __enter__(self) -> "Progress":
		return self

	def __exit__(self, exc_type, exc, tb) -> None:
		if self.status == RUNNING:
			self.end(exc)

	def advance(self, n: int = 1) -> None:
		"""``n`` more items done (cheap: a state goes out at most ``rate`` times a second)."""
		self.done += n
		if time.monotonic() >= self._next_publish:
			self._publish()

	def set(self, done: int, total: int | None = None, stage: str | None = None) -> None:
		"""Where the job stands: ``done`` items of ``total`` (unchanged when None), in ``stage``."""
		self.done = _count("done", done)
		if total is not None:
			self.total = _count("total", total)
		if stage is not None:
			if not isinstance(stage, str):
				raise InvalidArgument(f"stage must be text, not {stage!r}")
			self.stage = stage[:MAX_STAGE_LENGTH]  # sent with the next state, like the counts
		if time.monotonic() >= self._next_publish:
			self._publish()

	@property
	def cancelled(self) -> bool:
		"""Whether someone asked the job to stop (read from Redis at most every 0.1 s)."""
		if not self._cancelled and time.monotonic() - self._cancel_checked >= CANCEL_CHECK_SECONDS:
			self._cancel_checked = time.monotonic()
			self._cancelled = bool(self._host.connection.exists(self._cancel_key))
		return self._cancelled

	def close(self, status: str = DONE, reason: str | None = None) -> None:
		"""Send the final state: ``done``, ``failed`` (with a short reason) or ``cancelled``."""
		if status not in STATUSES or status == RUNNING:
			raise InvalidArgument(
				f"status must be one of {DONE!r}, {FAILED!r}, {CANCELLED!r}, not {status!r}"
			)
		self.status = status
		self.reason = str(reason)[:MAX_REASON_LENGTH] if reason else None
		self._publish()
		trackers = _open.get(self.run_id, [])
		if self in trackers:
			trackers.remove(self)
		if not trackers:
			_open.pop(self.run_id, None)

	def end(self, exc: BaseException | None) -> None:
		"""The final state of a job that raised ``exc`` (failed), or returned: done, or cancelled if
		it was asked to stop and stopped short (a job that did all its items is done)."""
		if exc is not None:
			self.close(FAILED, reason=f"{type(exc).__name__}: {exc}")
			return
		stopped_short = self.total is None or self.done < self.total
		self.close(CANCELLED if self._cancelled and stopped_short else DONE)

	def state(self) -> dict[str, Any]:
		elapsed = max(time.monotonic() - self._started_monotonic, 1e-9)
		rate = self.done / elapsed
		remaining = None if self.total is None else max(self.total - self.done, 0)
		percent = None
		if self.total:
			percent = round(min(100.0, 100.0 * self.done / self.total), 1)
		elif self.total == 0 or self.status == DONE:
			percent = 100.0 if self.status == DONE else 0.0
		return {
			"id": self.run_id,
			"job_id": self.job.id,
			"method": self.job.method,
			"queue": self.job.queue,
			"title": self.title,
			"owner": self.owner,
			"reference_doctype": self.reference[0] if self.reference else None,
			"reference_name": self.reference[1] if self.reference else None,
			"status": self.status,
			"reason": self.reason,
			"stage": self.stage,
			"done": self.done,
			"total": self.total,
			"percent": percent,
			"rate": round(rate, 2),
			"eta": round(remaining / rate, 1)
			if remaining is not None and rate > 0 and self.status == RUNNING
			else None,
			"started_at": self._started,
			"updated_at": time.time(),
		}

	def _publish(self) -> None:
		state = self.state()
		ttl = RUNNING_STATE_SECONDS if self.status == RUNNING else self._keep_seconds
		pipe = self._host.connection.pipeline(transaction=False)
		_write(pipe, self._host.namespace, state, ttl)
		pipe.exists(self._cancel_key)
		*_, cancel = pipe.execute()
		self._cancelled = self._cancelled or bool(cancel)
		self._cancel_checked = time.monotonic()
		self._host.publish_progress(state)
		self.published += 1
		self._next_publish = time.monotonic() + self._interval


def start(
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
	job = context.current_job()
	if job is None:
		raise NotConfigured(
			"jobkit.progress() reports the progress of a jobkit job: call it inside a job that "
			"jobkit.enqueue (or jobkit.batch, or an @jobkit.job function's .enqueue) started"
		)
	return Progress(
		context.get_host(),
		job,
		total=total,
		title=title,
		reference_doctype=reference_doctype,
		reference_name=reference_name,
		rate=rate,
		keep_seconds=keep_seconds,
	)


@contextmanager
def about(doctype: str, name: str):
	"""Within the block, a job's progress goes to the room of record ``doctype``/``name`` unless it
	names a reference itself (the jobs of jobkit.enqueue_doc and queue_action set it)."""
	token = _reference.set((doctype, name))
	try:
		yield
	finally:
		_reference.reset(token)


def _write(pipe, namespace: str, state: dict, ttl: int) -> None:
	"""Queue on ``pipe`` the writes of a state: itself, and its place in its owner's index."""
	pipe.set(keys.progress(namespace, state["id"]), json.dumps(state), ex=ttl)
	if state["owner"]:
		owner_key = keys.progress_owner(namespace, state["owner"])
		pipe.zadd(owner_key, {state["id"]: state["updated_at"]})
		pipe.zremrangebyscore(owner_key, 0, state["updated_at"] - RUNNING_STATE_SECONDS)
		pipe.expire(owner_key, RUNNING_STATE_SECONDS)


def keep_and_publish(host: Host, state: dict, ttl: int) -> None:
	"""Write a state made outside a tracker (a batch's, a lost run's) and deliver it."""
	pipe = host.connection.pipeline(transaction=False)
	_write(pipe, host.namespace, state, ttl)
	pipe.execute()
	host.publish_progress(state)


def end_lost_run(host: Host, run_id: str, reason: str) -> None:
	"""Mark a run's progress failed when its process died with the state still "running"."""
	state = read(host, run_id)
	if state is None or state["status"] != RUNNING:
		return
	state.update(status=FAILED, reason=reason[:MAX_REASON_LENGTH], eta=None, updated_at=time.time())
	keep_and_publish(host, state, host.progress_keep_seconds)


def close_open(run_id: str | None, exc: BaseException | None) -> None:
	"""Send the final state of the run's trackers left open (not used as context managers)."""
	for tracker in list(_open.get(run_id, ())):
		try:
			tracker.end(exc)
		except Exception:  # a lost Redis connection must not replace the job's own outcome
			_open.pop(run_id, None)


def checked_run_id(run_id: object) -> str:
	"""``run_id`` if it can be a run's RQ id, else ``InvalidArgument`` naming what to pass."""
	if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > MAX_RUN_ID_LENGTH:
		shown = f"{run_id[:40]!r}... ({len(run_id)} characters)" if isinstance(run_id, str) else repr(run_id)
		raise InvalidArgument(
			f"give the job run's RQ id (handle.rq_id, or jobkit.current_job().rq_id), not {shown}"
		)
	return run_id


def read(host: Host, run_id: str) -> dict | None:
	"""The last state of a run (its RQ id), or None: never reported, or kept no longer."""
	raw = host.connection.get(keys.progress(host.namespace, run_id))
	return json.loads(raw) if raw is not None else None


def for_owner(host: Host, owner: str, limit: int = OWNER_INDEX_LIMIT) -> list[dict]:
	"""The owner's runs that reported progress and are still kept, the latest first."""
	run_ids = host.connection.zrevrange(keys.progress_owner(host.namespace, owner), 0, limit - 1)
	if not run_ids:
		return []
	raws = host.connection.mget([keys.progress(host.namespace, run_id.decode()) for run_id in run_ids])
	return [json.loads(raw) for raw in raws if raw is not None]


def request_cancel(host: Host, run_id: str) -> None:
	"""Ask a running job to stop: its tracker's ``cancelled`` turns True within 0.1 s of a check."""
	host.connection.set(keys.progress_cancel(host.namespace, run_id), 1, ex=RUNNING_STATE_SECONDS)


def _count(name: str, value: object) -> int:
	return whole_number(name, value, minimum=0)
