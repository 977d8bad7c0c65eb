"""Job functions of the demo. Workers import them by dotted path, like any app's jobs."""

import json
import os
import time

import jobkit
from jobkit.engine.worker import Worker


def resize_images(count: int) -> str:
	time.sleep(0.05 * count)
	return f"resized {count} images"


def who_am_i() -> dict:
	job = jobkit.current_job()
	return {"id": job.id, "queue": job.queue, "attempt": job.attempt, "namespace": job.namespace}


def nightly_report(day: str) -> str:
	# Enqueue follow-up work from inside a job: the worker needs no configure() call.
	jobkit.enqueue("demo.jobs.email_report", queue="short", day=day)
	return f"report for {day} built"


def email_report(day: str) -> str:
	return f"report for {day} emailed"


def charge_card(amount: int) -> None:
	raise RuntimeError(f"card declined for {amount}")


def notify_done(job, connection, result) -> None:
	connection.rpush("demo:callbacks", f"on_success: {job.description} returned {result!r}")


def notify_failed(job, connection, exc_type, exc, traceback) -> None:
	connection.rpush("demo:callbacks", f"on_failure: {job.description} raised {exc_type.__name__}: {exc}")


def sync_customer(customer: str) -> str:
	return f"{customer} synced"


def recompute(version: int) -> str:
	return f"recomputed with version {version}"


def flaky_sync(name: str) -> str:
	job = jobkit.current_job()
	if job.attempt < 3:
		raise ConnectionError(f"lost the connection to the bank (attempt {job.attempt})")
	return f"{name} synced on attempt {job.attempt}"


def push_invoice(invoice: str, api_token: str) -> str:
	"""Fail while the bank's API is down (a flag in Redis stands for it)."""
	if not jobkit.get_host().connection.exists("demo:bank-up"):
		raise ConnectionError(f"bank API unreachable while pushing {invoice}")
	return f"{invoice} pushed with token {api_token[:3]}…"


@jobkit.job(queue="long", timeout=900, retry=3)
def rebuild_search_index(doctype: str = "Item") -> str:
	"""A job with its defaults declared once: `rebuild_search_index.enqueue()` uses them."""
	job = jobkit.current_job()
	return f"{doctype} index rebuilt on {job.queue}" if job else f"{doctype} index rebuilt here"


def import_catalogue(supplier: str, hang: bool = True) -> str:
	"""Publish the process id; the first attempt then runs "forever" (until the demo kills it)."""
	job = jobkit.current_job()
	jobkit.get_host().connection.set("demo:import-pid", os.getpid())
	if job.attempt == 1 and hang:
		time.sleep(600)
	return f"{supplier} catalogue imported on attempt {job.attempt}"


def reprice(item: int, fail_on: list) -> None:
	"""A per-item batch method: the items in `fail_on` fail until the demo fixes their cause."""
	connection = jobkit.get_host().connection
	if item in fail_on and not connection.get("demo:prices-fixed"):
		raise ValueError(f"no price list for item {item}")
	connection.incr("demo:repriced")


def slow_reprice(item: int) -> None:
	time.sleep(0.02)


def batch_done(summary: dict) -> None:
	"""on_complete: called once per batch, with its summary."""
	jobkit.get_host().connection.rpush("demo:batch-summaries", json.dumps(summary))


def import_rows(rows: int, seconds: float) -> str:
	"""Report progress over `rows` rows for about `seconds`, stopping early if cancelled."""
	with jobkit.progress(total=rows, title=f"Import {rows} rows") as progress:
		for row in range(rows):
			if progress.cancelled:
				return f"stopped at row {row}"
			time.sleep(seconds / rows)
			progress.advance()
			if row == rows // 2:
				progress.set(row + 1, stage="second half")  # goes out with the next state
	return f"imported {rows} rows"


class WorkerLostAfterTaking(Worker):
	"""jobkit's worker, dying (exit 9, as if SIGKILLed) right after it took a job, before starting it."""

	def execute_job(self, job, queue):
		os._exit(9)


def sync_orders(shop: str, page: int) -> str:
	"""Calls a shop's API (rate-limited there): at most two pages of a shop at once, say."""
	connection = jobkit.get_host().connection
	connection.rpush("demo:limited", json.dumps({"shop": shop, "at": time.time(), "event": "start"}))
	time.sleep(0.3)
	connection.rpush("demo:limited", json.dumps({"shop": shop, "at": time.time(), "event": "end"}))
	return f"{shop} page {page} synced"


def call_bank(statement: int) -> None:
	jobkit.get_host().connection.rpush("demo:bank", repr(time.time()))
