"""Keeping Frappe's own job look-ups truthful for jobkit's unique jobs.

A unique jobkit job runs under its own RQ id (logical id + token), so Frappe's
``get_job(job_id)``, which fetches the fixed id ``create_job_id(job_id)``, would not find it;
``is_job_enqueued``, ``get_job_status`` and ``frappe.enqueue(deduplicate=True)`` all go through
``get_job``. ``install`` wraps it: Frappe's answer first, then the job holding jobkit's unique key
for that id. Installed once per process by ``boot.setup``, which Frappe calls before a request, a job or a
test run.
"""

import functools

import frappe


def install() -> None:
	from frappe.utils import background_jobs

	original = getattr(background_jobs, "get_job", None)
	if original is None or getattr(original, "__jobkit_wrapped__", False):
		return

	@functools.wraps(original)
	def get_job(job_id: str):
		job = original(job_id)
		return job if job is not None else _held_job(job_id)

	get_job.__jobkit_wrapped__ = True
	background_jobs.get_job = get_job


def _held_job(job_id: str):
	from rq.exceptions import NoSuchJobError
	from rq.job import Job

	from jobkit.engine import keys, unique

	if not job_id or not getattr(frappe.local, "site", None):
		return None
	from jobkit.site.host import host  # only once Frappe's own answer is "no job"

	connection = host.connection
	for key in (keys.unique(host.namespace, job_id), keys.running(host.namespace, job_id)):
		holder = unique.holder_of(connection, key)
		if holder:
			try:
				return Job.fetch(holder, connection=connection)
			except NoSuchJobError:
				continue
	return None
