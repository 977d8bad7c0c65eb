"""The Frappe host: the site is the namespace, and jobs use Frappe's own job format.

Jobs are written as ``frappe.utils.background_jobs.execute_job`` calls on Frappe's queues, with
Frappe's job ids, TTLs and failed-registry trimming, so a stock ``bench worker`` runs them with
the site connected and the enqueuing user set, and Frappe's RQ Job list and
``is_job_enqueued`` see them. Only Frappe APIs present in both v15 and v16 are used.
"""

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any
from uuid import uuid4

import frappe
from frappe.utils import background_jobs

from jobkit.engine import defaults, keys
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.runner import NamedRunner
from jobkit.site import compat, documents
from jobkit.site import stats as stats_hooks
from jobkit.site.records import batches as batch_records
from jobkit.site.records import failed_jobs, skipped_runs
from jobkit.site.text import site_timezone

EXECUTE_JOB_PATH = "frappe.utils.background_jobs.execute_job"
# The job Frappe's scheduler enqueues for every scheduler_events entry (its target in job_type).
RUN_SCHEDULED_JOB_PATH = "frappe.core.doctype.scheduled_job_type.scheduled_job_type.run_scheduled_job"


class FrappeHost:
	name = "frappe"
	check_methods = True

	def __init__(self):
		self._queues: dict = {}

	def __repr__(self) -> str:
		return f"<FrappeHost site={getattr(frappe.local, 'site', None)!r}>"

	@property
	def namespace(self) -> str:
		return frappe.local.site

	@property
	def connection(self):
		return background_jobs.get_redis_conn()

	@property
	def max_payload_bytes(self) -> int:
		return int(frappe.conf.get("jobkit_max_payload_bytes") or defaults.DEFAULT_MAX_PAYLOAD_BYTES)

	@property
	def fair_shares(self) -> dict[str, int]:
		"""``jobkit_fair_queues`` (common_site_config.json: the bench's queues whose sites take fair
		shares), each with this site's ``jobkit_fair_weight`` (site_config.json; 1 when not set)."""
		queues = frappe.conf.get("jobkit_fair_queues") or []
		if not queues:
			return {}
		if isinstance(queues, str):
			queues = [name.strip() for name in queues.split(",") if name.strip()]
		weight = frappe.conf.get("jobkit_fair_weight") or 1
		if isinstance(weight, bool) or not isinstance(weight, int) or weight < 1:
			raise InvalidArgument(
				f"jobkit_fair_weight in site_config.json must be a whole number of at least 1, not {weight!r}"
			)
		known = self.queue_timeouts()
		return {queue: weight for queue in queues if queue in known}

	@property
	def lease_seconds(self) -> float:
		return float(frappe.conf.get("jobkit_lease_seconds") or defaults.LEASE_SECONDS)

	@property
	def progress_rate(self) -> float:
		return float(frappe.conf.get("jobkit_progress_rate") or defaults.PROGRESS_RATE)

	@property
	def progress_keep_seconds(self) -> int:
		return int(frappe.conf.get("jobkit_progress_keep_seconds") or defaults.PROGRESS_KEEP_SECONDS)

	@property
	def naive_timezone(self):
		return site_timezone()

	def queue_timeouts(self) -> dict[str, int]:
		return background_jobs.get_queues_timeout()

	def rq_queue(self, name: str):
		# frappe's get_queue builds the queue name from the bench path (a realpath) and fetches the
		# connection through a retry wrapper on every call; both are fixed for a process.
		connection = self.connection
		queue = self._queues.get(name)
		if queue is None or queue.connection is not connection:
			if not hasattr(background_jobs, "generate_qname"):  # not in this Frappe: its own path
				return background_jobs.get_queue(name)
			from rq import Queue

			background_jobs.validate_queue(name)
			queue = self._queues[name] = Queue(background_jobs.generate_qname(name), connection=connection)
		return queue

	def queue_name(self, rq_name: str) -> str:
		return stats_hooks.queue_name(rq_name)

	def rq_job_id(self, job_id: str) -> str:
		return background_jobs.create_job_id(job_id)

	# The site's before_job/after_job hooks record every job's stats (site.stats), jobkit's too.
	records_stats = False

	def runs_in_place(self) -> bool:
		return bool(frappe.flags.in_migrate)

	def check_capacity(self, queue: str) -> None:
		compat.check_queue_size(self.rq_queue(queue))

	def job_call(self, envelope: dict) -> tuple[str, dict]:
		return EXECUTE_JOB_PATH, {
			"site": frappe.local.site,
			"user": envelope["user"],
			"method": NamedRunner(envelope["method"]),
			"event": None,
			"job_name": envelope.get("name") or envelope["method"],
			"is_async": True,
			"kwargs": {"job": envelope},
		}

	def envelope_of(self, rq_job) -> dict | None:
		if rq_job.func_name != EXECUTE_JOB_PATH or not isinstance(rq_job.kwargs.get("method"), NamedRunner):
			return None
		envelope = (rq_job.kwargs.get("kwargs") or {}).get("job")
		return envelope if isinstance(envelope, dict) else None

	def job_options(self) -> dict:
		from rq import Callback

		options = {
			"result_ttl": frappe.conf.get("rq_results_ttl")
			or getattr(background_jobs, "RQ_RESULTS_TTL", defaults.RESULT_TTL),
			"failure_ttl": frappe.conf.get("rq_job_failure_ttl")
			or getattr(background_jobs, "RQ_JOB_FAILURE_TTL", defaults.FAILURE_TTL),
		}
		truncate = getattr(background_jobs, "truncate_failed_registry", None)
		if truncate is not None:
			# What frappe.enqueue does for every job: keep RQ's failed registry bounded.
			options["on_failure"] = Callback(truncate)
		return options

	def current_user(self) -> str | None:
		session = getattr(frappe.local, "session", None)
		return getattr(session, "user", None)

	def is_transient(self, exc: BaseException) -> bool:
		return compat.is_transient(exc)

	def after_commit(self, fn: Callable[[], Any]) -> None:
		frappe.db.after_commit.add(fn)

	def commit(self) -> None:
		frappe.db.commit()

	def rollback(self) -> None:
		frappe.db.rollback()

	def publish(self, event: str, message: dict, user: str | None = None, room: str | None = None) -> None:
		frappe.publish_realtime(event, message, user=user, room=room)

	def publish_progress(self, state: dict) -> None:
		# The document's room, else the owner's, named explicitly: publish_realtime would otherwise
		# pick a task's room (frappe.local.task_id) or the whole site's.
		from frappe import realtime

		if state["reference_doctype"]:
			room = realtime.get_doc_room(state["reference_doctype"], state["reference_name"])
		elif state["owner"]:
			room = realtime.get_user_room(state["owner"])
		else:
			return  # nobody to tell; the state is still kept for System Managers
		frappe.publish_realtime(keys.PROGRESS_EVENT, state, room=room)

	def log_error(self, title: str, message: str | None = None) -> None:
		frappe.log_error(title=title, message=message)

	def dead_letter(self, letter) -> None:
		documents.note_final_failure(letter, failed_jobs.record(letter))

	def scheduler_target(self) -> str | None:
		# execute_job describes the job it runs in frappe.local.job (v15 and v16).
		job = getattr(frappe.local, "job", None)
		if not job or job.get("method") != RUN_SCHEDULED_JOB_PATH:
			return None
		return (job.get("kwargs") or {}).get("job_type")

	def record_skipped_run(self, skipped) -> None:
		skipped_runs.record(skipped)

	@contextmanager
	def item_scope(self):
		# A savepoint per item: a failing item's writes are undone, the chunk's earlier items kept.
		savepoint = f"jobkit_item_{uuid4().hex[:12]}"
		frappe.db.savepoint(savepoint)
		try:
			yield
		except BaseException:
			frappe.db.rollback(save_point=savepoint)
			raise
		else:
			frappe.db.release_savepoint(savepoint)

	def batch_changed(self, state: dict) -> None:
		batch_records.sync(self, state)


host = FrappeHost()
