"""Retries on a real site: deadlocks are retried as the original user, by real bench workers."""

import time
from uuid import uuid4

import frappe

import jobkit
from jobkit import Retry
from jobkit.tests.utils import TEST_USER, SiteJobsTestCase, run_bench_worker

QUEUE = "short"


class TestRetries(SiteJobsTestCase):
	def test_a_job_that_deadlocks_twice_runs_three_times_as_its_user(self):
		marker = f"jobkit-test-{uuid4().hex}"
		frappe.set_user(TEST_USER)
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.deadlock_twice",
			queue=QUEUE,
			retry=Retry(max_attempts=3, backoff=0.2, jitter=False),
			marker=marker,
		)
		frappe.set_user("Administrator")

		deadline = time.monotonic() + 120
		while handle.status not in ("finished", "failed") and time.monotonic() < deadline:
			run_bench_worker(QUEUE)
			time.sleep(0.3)
			jobkit.promote_due()

		self.assertEqual(handle.status, "finished")
		self.assertEqual(int(frappe.cache.get(f"jobkit-test-runs:{marker}")), 3)
		frappe.db.commit()
		rows = frappe.get_all("ToDo", filters={"description": ("like", f"{marker}|%")}, pluck="owner")
		self.assertEqual(rows, [TEST_USER])
		# Retried attempts are not errors: no Error Log for them.
		self.assertFalse(frappe.db.exists("Error Log", {"method": "jobkit.tests.jobs.deadlock_twice"}))
