"""Where Frappe versions differ for jobkit.

``check_queue_size``: Frappe v16 refuses an enqueue once a queue holds ``max_queued_jobs``
(``QueueOverloaded``); v15 sets no bound. jobkit refuses exactly where ``frappe.enqueue`` does on
the same bench, with Frappe's own check and message.
"""

import frappe


def check_queue_size(rq_queue) -> None:
	"""Frappe v16 (and later): raise ``frappe.QueueOverloaded`` as ``frappe.enqueue`` would for
	``rq_queue``. Frappe v15 has no such check: nothing to do."""
	from frappe.utils import background_jobs

	check = getattr(background_jobs, "_check_queue_size", None)
	if check is not None:
		check(rq_queue)


def is_transient(exc: BaseException) -> bool:
	"""What Frappe's own execute_job retries: deadlocks, lock-wait timeouts, and the explicit ask."""
	if isinstance(exc, getattr(frappe, "RetryBackgroundJobError", ())):
		return True
	db = getattr(frappe.local, "db", None)
	try:
		return bool(db and (db.is_deadlocked(exc) or db.is_timedout(exc)))
	except (IndexError, AttributeError):  # they read exc.args[0], which not every error has
		return False
