"""The worker class of `bench jobkit-worker` (``jobkit.commands``)."""

from jobkit.engine.worker.workers import Worker as _Worker


class Worker(_Worker):
	"""jobkit's forking worker for a bench: jobs taken and started safely, runs renewed, and nothing of
	jobkit's runner loaded in the parent. Frappe's own ``execute_job`` sets up every job's site and
	host in its work-horse, and what the parent loads every work-horse carries: a bench's jobs are
	mostly Frappe's and other apps', which stay within Frappe's bound on a job's memory
	(``test_memory_usage``)."""

	preloads_jobkit = False
