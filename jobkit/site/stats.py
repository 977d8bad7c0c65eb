"""Every job the site runs, jobkit's or not, counted in jobkit's stats (``jobkit.engine.stats``)
through Frappe's ``before_job``/``after_job`` hooks, on any worker: ``bench worker`` or
``bench jobkit-worker``.

Both hooks import only the engine's stats: a stock `bench worker` imports them afresh in every job's
work-horse. Frappe calls ``after_job`` in ``execute_job``'s ``finally`` with the result only, so a failure is the
exception still propagating (``sys.exc_info``), or a jobkit attempt that failed and is retried
(marked by jobkit's runner). The same round trip that writes the stats tells, at most once every
``CHANGED_EVERY_MS``, the Jobs page's viewers that jobs moved (``jobkit_jobs`` on the Job Health
Check room, which only its readers join): the page then reads what changed.
"""

import logging
import sys

import frappe

from jobkit.engine import keys, stats

logger = logging.getLogger("jobkit")

JOBS_EVENT = "jobkit_jobs"
# The page's viewers hear of changes at most this often (the page reads its figures again then).
CHANGED_EVERY_MS = 2000
ROOM_DOCTYPE = "Job Health Check"


def job_started(method=None, kwargs=None, transaction_type=None, **_) -> None:
	from rq import get_current_job

	rq_job = get_current_job()
	if rq_job is not None:  # else frappe.enqueue(now=True) / is_async=False: not a background run
		stats.begin_rq_job(rq_job, queue_name(rq_job.origin))


def job_ended(method=None, kwargs=None, result=None, **_) -> None:
	from rq import get_current_job

	rq_job = get_current_job()
	if rq_job is None:
		return
	try:
		# The job's own connection, which RQ has used in this work-horse already: Frappe's
		# get_redis_conn() would open a new one in every forked work-horse.
		connection, site = rq_job.connection, frappe.local.site
		changed = keys.jobs_changed(site)
		replies = stats.end(
			connection, site, method, rq_job.id, failed=sys.exc_info()[0] is not None,
			also=lambda pipe: pipe.set(changed, 1, nx=True, px=CHANGED_EVERY_MS),
		)  # fmt: skip
		if replies and replies[-1]:
			announce_change()
	except Exception as e:  # the job's outcome is its own: stats are never why a job fails
		logger.warning("jobkit: could not record the stats of %s (%s: %s)", rq_job.id, type(e).__name__, e)


def queue_name(rq_name: str) -> str:
	"""A queue's name in the site's terms: Frappe names a bench's RQ queues "<bench id>:<queue>".

	Here, not through the site's host: a stock `bench worker` forks a fresh work-horse per job and
	imports these hooks in it each time, so they import no more than the stats need."""
	return rq_name.rpartition(":")[2]


def announce_change() -> None:
	from frappe.realtime import get_doctype_room

	frappe.publish_realtime(JOBS_EVENT, {}, room=get_doctype_room(ROOM_DOCTYPE))
