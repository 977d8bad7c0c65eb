"""Job functions for the Frappe-level tests; a real bench worker imports them by dotted path."""

import os
import sys
import time

import frappe

import jobkit


def record(marker: str) -> str:
	"""Write what the job saw into a ToDo (its owner is the job's user) and return the marker."""
	job = jobkit.current_job()
	frappe.get_doc(
		{
			"doctype": "ToDo",
			"description": f"{marker}|site={frappe.local.site}|job={job.id}|rq={job.rq_id}",
		}
	).insert(ignore_permissions=True)
	return marker


def record_plain(marker: str) -> str:
	"""A job with nothing of jobkit in it, for frappe.enqueue: a ToDo owned by the job's user."""
	frappe.get_doc({"doctype": "ToDo", "description": f"{marker}|site={frappe.local.site}"}).insert(
		ignore_permissions=True
	)
	return marker


def resident_kilobytes() -> int:
	"""The job's resident memory in kB (VmRSS: what Frappe's test_memory_usage reads, unrounded)."""
	with open("/proc/self/status") as status:
		return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def worker_process() -> dict:
	"""What the job's worker (the parent of its work-horse) runs and has loaded."""
	with open(f"/proc/{os.getppid()}/cmdline") as cmdline:
		command_line = cmdline.read().split("\0")
	# Frappe runs its after_job hooks once the job returns: loaded now only if the worker loaded them.
	hook_modules = {path.rsplit(".", 1)[0] for path in frappe.get_hooks("after_job")}
	return {
		"worker_command_line": command_line,
		"bench_commands_loaded": "frappe.commands" in sys.modules,
		"job_hooks_not_loaded": sorted(hook_modules - set(sys.modules)),
	}


def fail(marker: str) -> None:
	raise frappe.ValidationError(f"jobkit test failure {marker}")


def record_failure(job, connection, exc_type, exc, traceback) -> None:
	frappe.get_doc({"doctype": "ToDo", "description": f"failure-callback|{exc_type.__name__}: {exc}"}).insert(
		ignore_permissions=True
	)


def deadlock_twice(marker: str) -> str:
	"""Fail the first two runs with a database deadlock, as MariaDB reports one; then record."""
	runs = frappe.cache.incr(f"jobkit-test-runs:{marker}")
	if runs <= 2:
		raise frappe.db.InternalError(
			1213, "Deadlock found when trying to get lock; try restarting transaction"
		)
	return record(marker)


def always_deadlock(marker: str, **settings) -> None:
	"""Fail every run with a database deadlock: retried by the policy, then a failed job."""
	raise frappe.db.InternalError(1213, f"Deadlock found when trying to get lock ({marker})")


def fail_until_fixed(marker: str, api_key: str) -> str:
	"""Fail until the test sets the marker's `fixed` flag (a fix deployed); then record the key used."""
	if not frappe.cache.get(f"jobkit-test-fixed:{marker}"):
		raise frappe.ValidationError(f"jobkit test failure {marker}")
	return record(f"{marker}|api_key={api_key}")


@jobkit.job(queue="long", timeout=900)
def scheduled_sync() -> None:
	"""A scheduler target handed off to `long`: record where it ran, then last until the test says go."""
	from rq import get_current_job

	job = jobkit.current_job()  # None when called directly
	where = f"queue={job.queue}|timeout={get_current_job().timeout}" if job else "called directly"
	frappe.get_doc({"doctype": "ToDo", "description": f"jobkit-test-scheduled|{where}"}).insert(
		ignore_permissions=True
	)
	frappe.db.commit()
	deadline = time.monotonic() + 120
	# exists(), not get_value(): get_value keeps a miss in the job's local cache.
	while not frappe.cache.exists("jobkit-test-scheduled-go") and time.monotonic() < deadline:
		time.sleep(0.1)


def hang_until_killed(marker: str, **settings) -> None:
	"""Publish this run's process id (a cache key named after the marker), then wait to be killed."""
	frappe.cache.set(f"jobkit-test-pid:{marker}", os.getpid(), ex=600)
	time.sleep(600)


def hang_on_first_attempt(marker: str) -> str:
	"""The first attempt publishes its process id and waits to be killed; a later one records."""
	if jobkit.current_job().attempt == 1:
		hang_until_killed(marker)
	return record(marker)


def close_todos(names: list, marker: str) -> None:
	"""A batch chunk: close the chunk's ToDos (one statement; the batch counts the items)."""
	frappe.db.set_value("ToDo", {"name": ("in", names)}, "status", "Closed")


def close_todo_unless_marked(name: str, marker: str) -> None:
	"""A per-item batch method: close the ToDo, then fail (after writing) for one marked to fail."""
	todo = frappe.get_doc("ToDo", name)
	todo.status = "Closed"
	todo.save(ignore_permissions=True)
	if todo.description.endswith("|fail") and not frappe.cache.get(f"jobkit-test-fixed:{marker}"):
		raise frappe.ValidationError(f"cannot close {name}: marked to fail")


def note_batch_summary(summary: dict) -> None:
	"""on_complete: keep what the batch reported, for the test to read."""
	frappe.cache.rpush(f"jobkit-test-summary:{summary['batch']}", frappe.as_json(summary))


def count_with_progress(items: int) -> None:
	"""Advance a progress tracker once per item (published at most a few times a second)."""
	with jobkit.progress(total=items, title="Counting") as progress:
		for _ in range(items):
			progress.advance()


def report_until_cancelled(marker: str, seconds: float = 120) -> None:
	"""Report progress until someone cancels the job (or ``seconds`` pass), then record how it ended."""
	deadline = time.monotonic() + seconds
	with jobkit.progress(total=round(seconds * 20), title=f"Until cancelled {marker}") as progress:
		while not progress.cancelled and time.monotonic() < deadline:
			progress.advance()
			time.sleep(0.05)
	frappe.get_doc({"doctype": "ToDo", "description": f"{marker}|cancelled={progress.cancelled}"}).insert(
		ignore_permissions=True
	)


def sleep_quietly(marker: str, seconds: float = 120) -> None:
	"""Run ``seconds`` without reporting progress (only RQ's stop command ends it early)."""
	time.sleep(seconds)
	frappe.get_doc({"doctype": "ToDo", "description": f"{marker}|slept"}).insert(ignore_permissions=True)


def limited_sleep(marker: str, shop: str, seconds: float = 0.3) -> None:
	"""A job under a limit on ``shop``: counts the runs of its shop going on at its start (itself
	included), and which worker process ran it."""
	connection = jobkit.get_host().connection
	running = f"{marker}:running"
	try:
		connection.rpush(f"{marker}:seen", connection.incr(running))
		connection.rpush(f"{marker}:workers", os.getppid())
		time.sleep(seconds)
	finally:
		connection.decr(running)
	connection.rpush(f"{marker}:done", shop)
