"""Delayed jobs on a real site: promoted by jobkit's scheduler task, run by a real bench worker."""

import time
from datetime import timedelta
from uuid import uuid4

import frappe
from frappe.utils import add_to_date, now_datetime

import jobkit
from jobkit.tasks.promote import promote_due
from jobkit.tests.utils import SiteJobsTestCase, run_bench_worker

QUEUE = "short"


class TestDelayed(SiteJobsTestCase):
	def test_the_promote_task_is_scheduled_every_minute(self):
		self.assertIn(
			"jobkit.tasks.promote.promote_due", frappe.get_hooks("scheduler_events")["cron"]["* * * * *"]
		)
		job_type = frappe.db.get_value(
			"Scheduled Job Type",
			{"method": "jobkit.tasks.promote.promote_due"},
			["frequency", "cron_format"],
			as_dict=True,
		)
		self.assertEqual((job_type.frequency, job_type.cron_format), ("Cron", "* * * * *"))

	def test_a_delayed_job_runs_after_promotion(self):
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, delay=1, marker=marker)
		self.assertEqual(handle.status, "scheduled")  # stays so: nothing promotes it before promote_due
		run_bench_worker(QUEUE)  # not due: the worker finds nothing
		frappe.db.commit()
		self.assertEqual(frappe.db.count("ToDo", {"description": ("like", f"{marker}|%")}), 0)

		deadline = time.monotonic() + 10
		while handle.status == "scheduled" and time.monotonic() < deadline:
			promote_due()
			time.sleep(0.2)
		self.assertEqual(handle.status, "queued")
		run_bench_worker(QUEUE)
		frappe.db.commit()
		self.assertEqual(frappe.db.count("ToDo", {"description": ("like", f"{marker}|%")}), 1)

	def test_a_naive_at_is_read_in_the_system_time_zone(self):
		at = add_to_date(now_datetime(), hours=2)  # naive, in the system time zone, as Frappe gives it
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, at=at, marker="jobkit-test-at")
		from rq.registry import ScheduledJobRegistry

		registry = ScheduledJobRegistry(queue=jobkit.get_host().rq_queue(QUEUE))
		due = registry.connection.zscore(registry.key, handle.rq_id)
		self.assertAlmostEqual(due, time.time() + timedelta(hours=2).total_seconds(), delta=5)
		registry.remove(handle.rq_id)
		handle.fetch().delete()

	def test_bench_jobkit_scheduler_once(self):
		import os
		import subprocess
		import sys

		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, delay=1, marker="jobkit-test-cli")
		time.sleep(1.5)
		result = subprocess.run(
			[sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "jobkit-scheduler", "--once"],
			cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
			capture_output=True,
			text=True,
			timeout=120,
		)
		self.assertEqual(result.returncode, 0, result.stderr)
		self.assertIn("due job(s) queued", result.stdout)
		self.assertEqual(handle.status, "queued")
		run_bench_worker(QUEUE)
		self.assertEqual(handle.status, "finished")
