"""The worker of `bench jobkit-worker` (``jobkit.commands``): its class, and the process it runs in.

A forking worker's work-horses start as copies of it, so what the worker process has loaded every
job carries. `bench worker` runs in the process of the `bench` command, which has loaded the command
line of every app on the bench first; `bench jobkit-worker` replaces that process (the same pid, as
a process manager expects) by ``python -m jobkit.site.worker``, which loads Frappe, RQ, the worker
class and what Frappe runs around every job (the apps' ``before_job``/``after_job`` hooks, which
each work-horse would import again otherwise), and then runs Frappe's own ``start_worker``.
"""

import importlib
import json
import logging
import os
import sys

from jobkit.engine.worker.workers import Worker as _Worker

logger = logging.getLogger("jobkit")

# The environment variable that hands the command's options to the process it is replaced by: not
# the command line, which every user of the machine can read (`-p` is a Redis password).
OPTIONS_VARIABLE = "JOBKIT_WORKER_OPTIONS"


class Worker(_Worker):
	"""jobkit's forking worker for a bench: jobs taken and started safely, runs renewed, and nothing of
	jobkit's runner loaded in the parent. Frappe's own ``execute_job`` sets up every job's site and
	host in its work-horse, and what the parent loads every work-horse carries: a bench's jobs are
	mostly Frappe's and other apps', which stay within Frappe's bound on a job's memory
	(``test_memory_usage``)."""

	preloads_jobkit = False


def run(options: dict) -> None:
	"""Frappe's own ``start_worker`` with ``options`` (`bench worker`'s), building jobkit's ``Worker``.

	Its connection, queue names, logging, niceness and signals are exactly `bench worker`'s; it builds
	the module's ``Worker``, which this process (a worker and nothing else) points at jobkit's class
	for the call."""
	from frappe.utils import background_jobs

	preload_job_hooks()
	frappes = background_jobs.Worker
	background_jobs.Worker = Worker
	try:
		background_jobs.start_worker(**options)
	finally:
		background_jobs.Worker = frappes


def preload_job_hooks() -> None:
	"""Import the ``before_job`` and ``after_job`` hooks of the bench's apps (Frappe's own: the
	recorder, the monitor) before the first fork, once, instead of in every work-horse: about 23 ms
	of a no-op job's 32 on the v15 bench here (``frappe.recorder`` brings cProfile and sqlparse)."""
	import frappe

	with frappe.init_site():
		for app in frappe.get_all_apps(with_internal_apps=True):
			for hook in ("before_job", "after_job"):
				for path in frappe.get_hooks(hook, app_name=app) or ():
					try:  # its module: frappe.get_attr would ask the site's database which apps it has
						importlib.import_module(path.rpartition(".")[0])
					except Exception as error:  # the job meets it again, where Frappe reports it
						logger.warning("jobkit: %s hook %s of %s does not import: %s", hook, path, app, error)


def become(options: dict) -> None:
	"""Replace this process by a worker process that has loaded no bench command (see the module's
	docstring), or, where the interpreter cannot be run again, run the worker here."""
	environment = dict(os.environ, **{OPTIONS_VARIABLE: json.dumps(options)})
	try:
		os.execve(sys.executable, [sys.executable, "-m", __name__], environment)
	except OSError as error:  # no sys.executable to run (an embedded interpreter)
		logger.warning("jobkit: the worker runs in the bench command's process (%s)", error)
		run(options)


def main() -> None:
	try:
		options = json.loads(os.environ.pop(OPTIONS_VARIABLE))
	except (KeyError, ValueError):
		sys.exit(
			f"{__name__} is started by `bench jobkit-worker`, which passes its options in {OPTIONS_VARIABLE}"
		)
	run(options)


if __name__ == "__main__":
	# Through the module's own name, so that the worker's class is `jobkit.site.worker.Worker`.
	from jobkit.site import worker

	worker.main()
