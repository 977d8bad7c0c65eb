"""Whitelisted endpoints for the desk. Each checks permission on its first line.

Their parameters carry no type annotations on purpose: Frappe checks annotated arguments' types
before the function runs (v15 and v16, with different messages), which would answer a caller
without permission with a type error instead of a refusal, and anyone with Frappe's message
rather than jobkit's, which says what to pass. Each endpoint checks its own arguments, after
permission.
"""

import json

import frappe

from jobkit.engine import progress, public, unique
from jobkit.engine.batches import BatchNotFound
from jobkit.engine.enqueue import MAX_JOB_ID_LENGTH
from jobkit.engine.errors import InvalidArgument
from jobkit.site import actions
from jobkit.site.host import host

MANAGER_ROLE = "System Manager"
# Records one call may act on: a page of the list view, many times over.
MAX_NAMES_PER_CALL = 500
MAX_NAME_LENGTH = 140


@frappe.whitelist()
def get_unique_lock(job_id) -> list[dict]:
	"""The unique keys held for a job id: holder job, its status, whether it is stale, TTL left."""
	frappe.only_for(MANAGER_ROLE)
	job_id = _checked_job_id(job_id)
	return unique.lock_info(host.connection, host.namespace, job_id)


@frappe.whitelist(methods=["POST"])
def clear_unique_lock(job_id, force=False) -> dict:
	"""Release a stuck unique key. A key whose holder is still queued or running needs force=1."""
	frappe.only_for(MANAGER_ROLE)
	job_id = _checked_job_id(job_id)
	held = unique.lock_info(host.connection, host.namespace, job_id)
	live = [entry for entry in held if not entry["stale"]]
	if live and not frappe.utils.cint(force):
		frappe.throw(
			frappe._(
				"Job {0} is held by a {1} job ({2}); clearing it lets a second copy start. Pass force to clear anyway."
			).format(frappe.bold(job_id), live[0]["holder_status"], live[0]["holder"]),
			title=frappe._("Job still alive"),
		)
	released = unique.unlock(host.connection, host.namespace, job_id)
	frappe.logger("jobkit").info(f"unique key of {job_id} cleared by {frappe.session.user}: {released}")
	return {"job_id": job_id, "released": released}


@frappe.whitelist(methods=["POST"])
def retry_failed_jobs(names) -> dict:
	"""Enqueue the stored job of each Failed record again; each record that was retried becomes Retried.

	Returns ``{"retried": {name: new RQ job id}, "errors": {name: why not}, "message": ...}``: a
	record that cannot be retried (not Failed any more, its unique job already queued, its method
	gone) is reported and the others go on.
	"""
	frappe.only_for(MANAGER_ROLE)
	done, errors = actions.for_each(_checked_names(names), actions.retry_failed_job_as_rq_id)
	message = frappe._("{0} retried, {1} not retried").format(len(done), len(errors))
	return {"retried": done, "errors": errors, "message": message}


@frappe.whitelist(methods=["POST"])
def discard_failed_jobs(names) -> dict:
	"""Mark each Failed record Discarded. Returns ``{"discarded": [...], "errors": {name: why not}}``."""
	frappe.only_for(MANAGER_ROLE)
	done, errors = actions.for_each(_checked_names(names), actions.discard_failed_job)
	message = frappe._("{0} discarded, {1} not discarded").format(len(done), len(errors))
	return {"discarded": list(done), "errors": errors, "message": message}


@frappe.whitelist(methods=["POST"])
def cancel_batch(name) -> dict:
	"""Cancel a batch (its user, or a System Manager): queued chunks dropped, running ones stop."""
	try:  # the action checks the caller's access first
		cancelled = actions.cancel_batch(name)
	except BatchNotFound as e:
		frappe.throw(str(e), title=frappe._("Batch no longer in Redis"))
	message = (
		frappe._("Batch cancelled: running chunks stop at their next item")
		if cancelled
		else frappe._("The batch had already ended: nothing to cancel")
	)
	return {"cancelled": cancelled, "message": message}


@frappe.whitelist(methods=["POST"])
def retry_batch_failed_items(name) -> dict:
	"""Run the batch's method again over exactly its failed items, as a new batch."""
	try:  # the action checks the caller's access first
		new_name = actions.retry_batch_failed_items(name)
	except (BatchNotFound, InvalidArgument) as e:
		frappe.throw(str(e), title=frappe._("Failed items not retried"))
	return {"batch": new_name, "message": frappe._("Failed items retried as batch {0}").format(new_name)}


@frappe.whitelist()
def get_progress(rq_id) -> dict | None:
	"""A job run's last progress state: for the job's owner and System Managers only."""
	return _readable_progress(rq_id)


@frappe.whitelist()
def get_my_jobs() -> list[dict]:
	"""The current user's jobs that reported progress and are still kept, and their jobs that failed
	for good in the last day (their Failed records), the latest first."""
	if frappe.session.user == "Guest":
		raise frappe.PermissionError(frappe._("Log in to see your background jobs"))
	from jobkit.site.records import failed_jobs

	states = progress.for_owner(host, frappe.session.user)
	batches = [state["batch"] for state in states if state.get("batch")]
	if batches:  # a batch whose record was deleted (pruned, by hand) is not shown any more
		kept = set(frappe.get_all("Jobkit Batch", {"name": ("in", batches)}, pluck="name"))
		states = [state for state in states if not state.get("batch") or state["batch"] in kept]
	shown = {state["id"] for state in states}
	return states + [
		state for state in failed_jobs.recent_of(frappe.session.user) if state["rq_id"] not in shown
	]


@frappe.whitelist(methods=["POST"])
def cancel_job(rq_id) -> dict:
	"""Ask a running job to stop (its owner, or a System Manager); the job stops at its next check."""
	state = _readable_progress(rq_id)
	if state is None:
		frappe.throw(
			frappe._("Job {0} has reported no progress, or ended too long ago: nothing to cancel").format(
				rq_id
			),
			exc=frappe.DoesNotExistError,
		)
	if state["status"] != progress.RUNNING:
		return {
			"cancelled": False,
			"message": frappe._("The job has ended already ({0})").format(state["status"]),
		}
	if state.get("batch"):  # a batch's aggregate progress: cancel the batch
		return cancel_batch(state["batch"])
	progress.request_cancel(host, rq_id)
	return {
		"cancelled": True,
		"message": frappe._(
			"Cancel requested: the job stops when it next checks (a job that never checks runs to its end)"
		),
	}


def _refusing_bad_input(fn, *args):
	"""``fn(*args)``, with jobkit's refusal of bad input as Frappe's (a message, HTTP 417)."""
	try:
		return fn(*args)
	except InvalidArgument as e:
		frappe.throw(str(e), exc=frappe.ValidationError)


def _readable_progress(rq_id: object) -> dict | None:
	"""The state, if the caller is its owner or a System Manager; PermissionError otherwise."""
	if frappe.session.user == "Guest":
		raise frappe.PermissionError(frappe._("Log in to see background jobs"))
	rq_id = _refusing_bad_input(progress.checked_run_id, rq_id)
	state = progress.read(host, rq_id)
	if state is None:
		return None
	if state.get("owner") != frappe.session.user and MANAGER_ROLE not in frappe.get_roles():
		raise frappe.PermissionError(frappe._("This job belongs to another user"))
	return state


@frappe.whitelist(methods=["POST"])
def run_health_check() -> str:
	"""Take a Job Health Check snapshot now (System Manager); returns the new record's name."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site.records import health_checks

	return health_checks.take_snapshot()


@frappe.whitelist(methods=["POST"])
def pause_queue(queue) -> dict:
	"""Pause a queue (System Manager): jobkit's workers start none of its jobs until it is resumed;
	enqueues go on and running jobs finish. A queue is the bench's: every site's jobs on it wait.
	Returns the live workers on it that do not honour the pause (stock `bench worker`s) and go on."""
	frappe.only_for(MANAGER_ROLE)
	unaware = _refusing_bad_input(public.pause_queue, queue)
	frappe.logger("jobkit").info(f"queue {queue} paused by {frappe.session.user}")
	message = frappe._(
		"Queue {0} paused: jobkit's workers start none of its jobs until it is resumed."
	).format(queue)
	if unaware:
		message += " " + frappe._("These workers do not honour the pause and go on: {0}").format(
			", ".join(map(frappe.utils.escape_html, unaware))  # a worker's name is whatever it was given
		)
	return {"queue": queue, "paused": True, "unaware_workers": unaware, "message": message}


@frappe.whitelist(methods=["POST"])
def resume_queue(queue) -> dict:
	"""Resume a paused queue (System Manager)."""
	frappe.only_for(MANAGER_ROLE)
	_refusing_bad_input(public.resume_queue, queue)
	frappe.logger("jobkit").info(f"queue {queue} resumed by {frappe.session.user}")
	return {"queue": queue, "paused": False, "message": frappe._("Queue {0} resumed.").format(queue)}


def _only_page_readers() -> None:
	"""The Jobs page's readers: System Managers, and Jobkit Settings' alert role (read-only)."""
	role = frappe.db.get_single_value("Jobkit Settings", "alert_role") or MANAGER_ROLE
	frappe.only_for((role, MANAGER_ROLE))


@frappe.whitelist(methods=["GET"])
def jobs_overview() -> dict:
	"""The Jobs page: queues with their last hour, running and scheduled jobs, failed counts."""
	_only_page_readers()
	from jobkit.site import jobs_page

	return jobs_page.overview()


@frappe.whitelist(methods=["GET"])
def job_stats(period="1h", queue=None, method_name=None) -> dict:
	"""Per method and queue: runs, failures, durations and waits over ``period`` (1h, 6h, 24h, 72h, 7d),
	of one queue or one method (its dotted path) if given."""
	_only_page_readers()
	from jobkit.site import jobs_page

	for name, value in (("queue", queue), ("method_name", method_name)):
		if value is not None and (not isinstance(value, str) or len(value) > 140):
			frappe.throw(frappe._("{0} must be a text of at most 140 characters").format(name))
	return _refusing_bad_input(jobs_page.stats_for, period, queue, method_name)


@frappe.whitelist(methods=["GET"])
def search_jobs(text=None) -> dict:
	"""Jobs and records by job id (exact) or by a part of a method's name."""
	_only_page_readers()
	from jobkit.site import jobs_page

	if not isinstance(text, str):
		frappe.throw(frappe._("text must be a job id or a part of a method's name"))
	return _refusing_bad_input(jobs_page.search, text)


@frappe.whitelist(methods=["POST"])
def stop_job(rq_id) -> dict:
	"""Kill a started job's work-horse now (RQ's stop-job command; System Manager)."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site import jobs_page

	return {"message": _refusing_bad_input(jobs_page.stop_job, rq_id)}


@frappe.whitelist(methods=["POST"])
def cancel_running_job(rq_id) -> dict:
	"""Ask a started job that reports progress to stop at its next check (System Manager)."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site import jobs_page

	return {"message": _refusing_bad_input(jobs_page.cancel_job, rq_id)}


@frappe.whitelist(methods=["POST"])
def run_scheduled_job_now(rq_id) -> dict:
	"""Put a delayed job or waiting retry on its queue now (System Manager)."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site import jobs_page

	return {"message": _refusing_bad_input(jobs_page.run_scheduled_now, rq_id)}


@frappe.whitelist(methods=["POST"])
def cancel_scheduled_job(rq_id) -> dict:
	"""Cancel a delayed job or waiting retry; a Jobkit Skipped Run records it (System Manager)."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site import jobs_page

	return {"message": _refusing_bad_input(jobs_page.cancel_scheduled, rq_id)}


@frappe.whitelist(methods=["GET"])
def count_failed_jobs(filters=None) -> dict:
	"""How many Failed records match ``filters`` (method, error_type, queue, from_date, to_date)."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site import jobs_page

	return {"count": _refusing_bad_input(jobs_page.count_failed, filters or "{}")}


@frappe.whitelist(methods=["POST"])
def bulk_failed_jobs(action, filters=None) -> dict:
	"""Retry or discard every Failed record matching ``filters``, in a background job with progress."""
	frappe.only_for(MANAGER_ROLE)
	from jobkit.site import jobs_page

	return _refusing_bad_input(jobs_page.start_bulk, action, filters or "{}")


@frappe.whitelist()
def health_verdict_card(filters=None) -> str:
	"""The Jobkit workspace's verdict card: the verdict in its colour, its worst findings and a link
	to the Jobs page (HTML, every finding escaped; System Manager, and the alert role)."""
	_only_page_readers()
	from jobkit.site import workspace

	return workspace.verdict_html()


@frappe.whitelist()
def jobs_card(filters=None) -> dict:
	"""A Jobkit workspace number card: ``filters`` names its figure ({"figure": "waiting"}; also
	running, failed, runs_last_hour). Number cards call it with POST."""
	_only_page_readers()
	from jobkit.site import workspace

	filters = frappe.parse_json(filters) if isinstance(filters, str) else filters
	name = filters.get("figure") if isinstance(filters, dict) else None
	if name not in workspace.FIGURES:
		frappe.throw(frappe._("filters must name a figure: one of {0}").format(", ".join(workspace.FIGURES)))
	return workspace.figure(name)


@frappe.whitelist()
def runs_chart(**_) -> dict:
	"""The Jobkit workspace chart: runs per hour by queue over the last 24 hours (from the stats)."""
	_only_page_readers()
	from jobkit.site import workspace

	return workspace.chart("runs")


@frappe.whitelist()
def durations_chart(**_) -> dict:
	"""The Jobkit workspace chart: the 95th percentile run time per hour by queue, last 24 hours."""
	_only_page_readers()
	from jobkit.site import workspace

	return workspace.chart("p95")


@frappe.whitelist(methods=["GET"])
def metrics():
	"""The site's job health in Prometheus' text format; for users with the alert role (an API key).

	Scrape /api/method/jobkit.api.metrics with ``Authorization: token <api_key>:<api_secret>`` of a
	user with Jobkit Settings' alert role (System Manager by default).
	"""
	role = frappe.db.get_single_value("Jobkit Settings", "alert_role") or MANAGER_ROLE
	frappe.only_for((role, MANAGER_ROLE))
	from werkzeug.wrappers import Response

	from jobkit.engine import stats
	from jobkit.engine.health import metrics as engine_metrics
	from jobkit.site import health as site_health
	from jobkit.site.records import health_checks

	report = site_health.check(health_checks.thresholds())
	site = frappe.local.site
	text = engine_metrics.render(report, site) + engine_metrics.render_stats(
		stats.totals(host.connection, site), site
	)
	return Response(text, content_type=engine_metrics.CONTENT_TYPE)


def _checked_names(names: object) -> list[str]:
	if isinstance(names, str):
		try:
			names = json.loads(names)
		except ValueError:
			names = [names]  # a single record name, as a form sends it in a URL
	if (
		not isinstance(names, list)
		or not 0 < len(names) <= MAX_NAMES_PER_CALL
		or not all(isinstance(name, str) and 0 < len(name) <= MAX_NAME_LENGTH for name in names)
	):
		frappe.throw(
			frappe._("names must be a list of 1 to {0} record names (text of at most {1} characters)").format(
				MAX_NAMES_PER_CALL, MAX_NAME_LENGTH
			),
			exc=frappe.ValidationError,
		)
	return list(dict.fromkeys(names))


def _checked_job_id(job_id: object) -> str:
	if not isinstance(job_id, str) or not job_id.strip() or len(job_id) > MAX_JOB_ID_LENGTH:
		frappe.throw(
			frappe._("job_id must be a non-empty text of at most {0} characters").format(MAX_JOB_ID_LENGTH),
			exc=frappe.ValidationError,
		)
	return job_id
