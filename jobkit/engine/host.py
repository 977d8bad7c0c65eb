"""The Host protocol: what the engine needs from its surroundings.

The engine writes to Redis itself, through the pieces a host supplies (its queues, its RQ job
ids, the function and arguments RQ calls), so that the one code path that enqueues is the
engine's, tested against real Redis on both RQ lines. The Frappe host supplies Frappe's own job
format (``execute_job``), so Frappe's workers set up the site, user and database for every job;
the plain-RQ host (``rq_host``) serves scripts, web apps and jobkit's own engine tests.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, Protocol, runtime_checkable

import redis

from jobkit.engine.dead_letter import DeadLetter
from jobkit.engine.skipped import SkippedRun


@runtime_checkable
class Host(Protocol):
	"""What a host gives the engine. ``FrappeHost`` and ``RQHost`` are the two implementations."""

	name: str
	check_methods: bool

	@property
	def namespace(self) -> str: ...

	@property
	def connection(self) -> redis.Redis: ...

	@property
	def max_payload_bytes(self) -> int: ...

	@property
	def lease_seconds(self) -> float:
		"""TTL of a key held by a running job, renewed while its process lives."""

	@property
	def naive_timezone(self):
		"""The tzinfo a naive ``at=`` datetime is read in (None: this machine's local time)."""

	@property
	def progress_rate(self) -> float:
		"""At most this many progress messages a second per job."""

	@property
	def progress_keep_seconds(self) -> int:
		"""How long a job's last progress state stays readable after it ended."""

	def queue_timeouts(self) -> dict[str, int]:
		"""Queues the host's workers listen to, with each queue's default job timeout."""

	def rq_queue(self, name: str) -> Any:
		"""The ``rq.Queue`` for a queue name already validated against ``queue_timeouts``."""

	def queue_name(self, rq_name: str) -> str:
		"""The queue name (a key of ``queue_timeouts``) of an RQ queue's name (a job's ``origin``)."""
		return rq_name

	def rq_job_id(self, job_id: str) -> str:
		"""The RQ job id of a logical job id, namespaced."""

	@property
	def records_stats(self) -> bool:
		"""Whether jobkit's runner records its runs' stats (``stats``): a host whose job wrapper
		records every job's itself (Frappe's ``before_job``/``after_job`` hooks) says False."""

	def runs_in_place(self) -> bool:
		"""Whether every enqueue (but a delayed one) runs in the caller's process now: Frappe's
		during ``bench migrate``, where ``frappe.enqueue`` does the same, so that no worker runs code
		or a schema half-way through the migration."""

	@property
	def fair_shares(self) -> dict[str, int]:
		"""The queues on which this namespace's jobkit jobs take fair shares, with its weight on each
		({"long": 1}): at most weight x the queue's workers of its jobs queued or running at once
		(``limits``). Empty: none."""

	def check_capacity(self, queue: str) -> None:
		"""Refuse a new call (an enqueue, a batch) for ``queue`` when the host refuses more work there,
		raising the host's own error (Frappe v16: ``QueueOverloaded`` past ``max_queued_jobs``).
		Never asked for what an accepted call goes on to write (its retries, a batch's chunks)."""

	def job_call(self, envelope: dict) -> tuple[str, dict]:
		"""The dotted path RQ calls and its keyword arguments, for a jobkit envelope."""

	def envelope_of(self, rq_job) -> dict | None:
		"""The jobkit envelope an RQ job written through ``job_call`` carries (None: not jobkit's)."""

	def job_options(self) -> dict:
		"""Extra ``Queue.create_job`` options (result and failure TTLs, RQ callbacks)."""

	def current_user(self) -> str | None: ...

	def is_transient(self, exc: BaseException) -> bool:
		"""Whether the host knows ``exc`` as worth retrying (e.g. a database deadlock)."""

	def after_commit(self, fn: Callable[[], Any]) -> None:
		"""Run ``fn`` once the caller's transaction commits (at once where there is none)."""

	def commit(self) -> None: ...

	def rollback(self) -> None: ...

	def publish(
		self, event: str, message: dict, user: str | None = None, room: str | None = None
	) -> None: ...

	def publish_progress(self, state: dict) -> None:
		"""Deliver a progress state to its owner's room, or its reference document's; never site-wide."""

	def log_error(self, title: str, message: str | None = None) -> None: ...

	def dead_letter(self, letter: DeadLetter) -> None:
		"""Keep the record of a job whose last attempt failed, where people can retry it."""

	def scheduler_target(self) -> str | None:
		"""The dotted path the host's scheduler is running as a scheduled target here, if any."""

	def record_skipped_run(self, skipped: SkippedRun) -> None:
		"""Keep the record of a run not started on purpose (``skipped``), replacing one with its id."""

	def item_scope(self) -> AbstractContextManager:
		"""Where one item of a per-item batch runs: its writes are undone if it raises."""

	def batch_changed(self, state: dict) -> None:
		"""A batch's counts or status changed (``state``: as ``BatchHandle.state()`` reads it)."""
