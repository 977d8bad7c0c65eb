"""@jobkit.job targets under Frappe's real scheduler path, and `bench jobkit check`."""

import json
import signal
import subprocess
import time

import frappe

import jobkit
from jobkit.engine.jobfunction import SCHEDULED_JOB_ID
from jobkit.tests.utils import BENCH_HELPER, JobkitTestCase, delete_test_records, run_bench, run_bench_worker

TARGET = "jobkit.tests.jobs.scheduled_sync"
BAD_APP = "jobkit.tests.badhooks"


class TestSchedulerHandOff(JobkitTestCase):
	def setUp(self):
		frappe.cache.delete_value("jobkit-test-scheduled-go")
		frappe.db.delete("Scheduled Job Type", {"method": TARGET})
		frappe.db.delete("Jobkit Skipped Run", {"method": TARGET})
		# What `bench migrate` does for a hooks entry "cron": {"0 2 * * *": [TARGET]}.
		self.job_type = frappe.get_doc(
			{
				"doctype": "Scheduled Job Type",
				"method": TARGET,
				"frequency": "Cron",
				"cron_format": "0 2 * * *",
			}
		).insert()
		frappe.db.commit()

	def tearDown(self):
		frappe.cache.delete_value("jobkit-test-scheduled-go")
		frappe.db.delete("Scheduled Job Type", {"method": TARGET})
		frappe.db.delete("Jobkit Skipped Run", {"method": TARGET})
		frappe.db.delete("ToDo", {"description": ("like", "jobkit-test-scheduled|%")})
		frappe.db.commit()
		delete_test_records()

	def executions(self) -> list[str]:
		frappe.db.commit()
		return frappe.get_all(
			"ToDo", filters={"description": ("like", "jobkit-test-scheduled|%")}, pluck="description"
		)

	def scheduler_tick(self) -> None:
		"""The scheduler's path for a due event, then the default-queue worker that runs it."""
		self.assertTrue(self.job_type.enqueue(force=True))
		run_bench_worker("default")

	def test_a_scheduled_run_executes_on_its_queue_and_never_overlaps(self):
		long_worker = subprocess.Popen(
			[*BENCH_HELPER, "worker", "--queue", "long"],
			cwd=frappe.utils.get_bench_path() + "/sites",
			stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL,
		)
		try:
			self.scheduler_tick()
			deadline = time.monotonic() + 120
			while not self.executions() and time.monotonic() < deadline:
				time.sleep(0.3)
			self.assertEqual(self.executions(), ["jobkit-test-scheduled|queue=long|timeout=900"])
			job_id = SCHEDULED_JOB_ID.format(method=TARGET)
			self.assertTrue(jobkit.is_enqueued(job_id))  # still running

			self.scheduler_tick()  # the next tick while the first run goes on
			frappe.db.commit()
			skipped = frappe.get_all(
				"Jobkit Skipped Run", filters={"method": TARGET}, fields=["job_id", "running_status"]
			)
			self.assertEqual([(row.job_id, row.running_status) for row in skipped], [(job_id, "started")])

			frappe.cache.set_value("jobkit-test-scheduled-go", 1)
			deadline = time.monotonic() + 120
			while jobkit.is_enqueued(job_id) and time.monotonic() < deadline:
				time.sleep(0.3)
			self.assertFalse(jobkit.is_enqueued(job_id))
		finally:
			long_worker.send_signal(signal.SIGTERM)
			long_worker.wait(timeout=120)
		self.assertEqual(len(self.executions()), 1)  # one execution for two ticks

	def test_calling_the_target_directly_just_runs_it(self):
		frappe.cache.set_value("jobkit-test-scheduled-go", 1)
		from jobkit.tests.jobs import scheduled_sync

		scheduled_sync()  # as `bench execute` or a test would
		self.assertEqual(self.executions(), ["jobkit-test-scheduled|called directly"])
		self.assertFalse(jobkit.is_enqueued(SCHEDULED_JOB_ID.format(method=TARGET)))


class TestHooksCheck(JobkitTestCase):
	def test_each_mistake_in_a_test_apps_hooks_is_reported(self):
		reports = jobkit.check_hooks([BAD_APP])
		found = {(report.method.rsplit(".", 1)[-1], f.check) for report in reports for f in report.findings}
		for expected in [
			("bad_cron", "invalid_cron"),
			("gone", "import"),
			("needs_arguments", "arguments"),
			("nightly_cleanup", "duplicate"),
			("sync_all_customers", "heavy_all"),
			("long_report", "default_timeout"),
		]:
			self.assertIn(expected, found)
		[handed_off] = [report for report in reports if report.method.endswith(".handed_off")]
		self.assertEqual((handed_off.queue, handed_off.timeout, handed_off.findings), ("long", 900, []))
		self.assertEqual(len(handed_off.next_runs), 3)
		self.assertEqual(str(handed_off.next_runs[0].tzinfo), frappe.utils.get_system_timezone())

	def test_bench_check_exits_non_zero_on_a_bad_app_and_zero_on_this_site(self):
		bad = run_bench("--site", frappe.local.site, "jobkit", "check", "--app", BAD_APP)
		self.assertEqual(bad.returncode, 1, bad.stderr)
		for text in ("invalid_cron", "import", "arguments", "duplicate", "heavy_all", "default_timeout"):
			self.assertIn(text, bad.stdout)
		clean = run_bench("--site", frappe.local.site, "jobkit", "check")
		self.assertEqual(clean.returncode, 0, clean.stdout + clean.stderr)
		as_json = run_bench("--site", frappe.local.site, "jobkit", "check", "--json")
		[promote] = [
			e for e in json.loads(as_json.stdout) if e["method"] == "jobkit.tasks.promote.promote_due"
		]
		self.assertEqual((promote["cron"], promote["findings"]), ("* * * * *", []))  # @jobkit.light
