"""The Jobs page's server side, on a real bench with real workers: stats of every job the site runs
(jobkit's and Frappe's own), search, pause, scheduled jobs run now or cancelled, bulk actions on
all matching failed records, and the hourly roll-up into Jobkit Job Stat records."""

import os
import subprocess
import time
from datetime import datetime, timedelta, timezone
from uuid import uuid4

import frappe

import jobkit
from jobkit import api
from jobkit.engine import dead_letter, keys, stats
from jobkit.engine.envelope import Envelope
from jobkit.site import jobs_page
from jobkit.site.host import host
from jobkit.site.records import failed_jobs, job_stats
from jobkit.tests.test_worker import run_jobkit_worker
from jobkit.tests.utils import (
	BENCH_HELPER,
	WORKER_TIMEOUT_SECONDS,
	SiteJobsTestCase,
	run_bench,
	run_bench_worker,
)

QUEUE = "short"
# Failed records the bulk tests make: more than one of the bulk job's pages.
BULK_RECORDS = jobs_page.BULK_PAGE + 30


def totals_of(method: str) -> stats.Figures:
	figures = stats.Figures()
	for (_, name), found in stats.totals(host.connection, frappe.local.site).items():
		if name == method:
			figures.add(found)
	return figures


class TestJobsPage(SiteJobsTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		self.marker = f"jobkit-test-{uuid4().hex}"

	def recorded(self, marker: str) -> int:
		frappe.db.commit()
		return frappe.db.count("ToDo", {"description": ("like", f"{marker}|%")})

	# Stats -----------------------------------------------------------------------------------------

	def test_a_frappe_job_not_enqueued_through_jobkit_is_counted_with_its_failures(self):
		ok, bad = "jobkit.tests.jobs.record_plain", "jobkit.tests.jobs.fail"
		before_ok, before_bad = totals_of(ok), totals_of(bad)
		for _ in range(3):
			frappe.enqueue(ok, queue=QUEUE, marker=self.marker)
		plain_failure = frappe.enqueue(bad, queue=QUEUE, marker=self.marker)
		frappe.db.commit()
		run_bench_worker(QUEUE)  # Frappe's own `bench worker`: the hooks count, not jobkit's worker

		self.assertEqual(self.recorded(self.marker), 3)
		after_ok, after_bad = totals_of(ok), totals_of(bad)
		self.assertEqual((after_ok.runs - before_ok.runs, after_ok.failures - before_ok.failures), (3, 0))
		self.assertEqual((after_bad.runs - before_bad.runs, after_bad.failures - before_bad.failures), (1, 1))

		# The page's last hour has them, with durations, for the chart and the top-methods table.
		rows = {row["method"]: row for row in jobs_page.stats_for("1h", queue=QUEUE)["methods"]}
		self.assertGreaterEqual(rows[ok]["runs"], 3)
		self.assertIsNotNone(rows[ok]["p95_ms"])
		self.assertGreaterEqual(rows[bad]["failures"], 1)
		# The engine's call says the same for a plain-RQ reader, and Prometheus has the counters.
		since = datetime.now(timezone.utc) - timedelta(hours=1)
		engine_rows = jobkit.job_stats(since=since, queue=QUEUE, method=ok)["methods"]
		self.assertEqual(engine_rows[0]["runs"], rows[ok]["runs"])
		text = api.metrics().get_data(as_text=True)
		self.assertIn(f'method="{bad}"', text)
		self.assertIn("jobkit_job_runs_total", text)
		# And a search by a part of the method's name finds the failed run by its RQ id.
		found = jobs_page.search("jobs.fail")
		self.assertIn(bad, found["methods"])
		self.assertIn(plain_failure.id, [row["rq_id"] for row in found["runs"]])

	def test_a_jobkit_job_is_counted_under_its_own_method_on_jobkit_worker(self):
		method = "jobkit.tests.jobs.record"
		before = totals_of(method)
		handle = jobkit.enqueue(method, queue=QUEUE, marker=self.marker)
		frappe.db.commit()
		run_jobkit_worker()
		self.assertEqual(handle.status, "finished")
		self.assertEqual(totals_of(method).runs - before.runs, 1)
		row = next(r for r in jobs_page.search(handle.rq_id)["jobs"] if r["rq_id"] == handle.rq_id)
		self.assertEqual((row["method"], row["status"], row["jobkit"]), (method, "finished", True))

	def test_a_stats_period_that_is_not_offered_is_refused(self):
		with self.assertRaisesRegex(jobkit.InvalidArgument, "period must be one of 1h, 6h"):
			jobs_page.stats_for("3 weeks")

	# Search ----------------------------------------------------------------------------------------

	def test_search_finds_a_job_by_its_id_in_any_state_without_a_scan(self):
		job_id = f"jobkit-test-search-{uuid4().hex[:8]}"
		waiting = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, delay=3600, marker=self.marker
		)
		frappe.db.commit()
		try:
			for text in (job_id, waiting.rq_id):
				rows = jobs_page.search(text)["jobs"]
				self.assertEqual(
					[(r["rq_id"], r["status"]) for r in rows], [(waiting.rq_id, "scheduled")], text
				)
			self.assertEqual(jobs_page.search(f"{job_id}-not-there")["jobs"], [])
		finally:
			jobs_page.cancel_scheduled(waiting.rq_id)
		# A failed job is found by its job id through its record once its RQ job has expired.
		name = self.failed_record(f"search-{uuid4().hex[:6]}", "ValueError")
		job_id = frappe.db.get_value(failed_jobs.DOCTYPE, name, "job_id")
		self.assertIn(name, [row.name for row in jobs_page.search(job_id)["failed"]])

	def test_search_refuses_an_empty_or_endless_text(self):
		for text in ("", "   ", "x" * 201):
			with self.assertRaisesRegex(jobkit.InvalidArgument, "Type a job id"):
				jobs_page.search(text)

	# Pause -----------------------------------------------------------------------------------------

	def test_a_paused_queue_waits_while_another_queue_runs_and_the_page_says_so(self):
		if QUEUE in jobkit.paused_queues():
			self.skipTest(f"{QUEUE} was paused before the test")  # the bench is left as found
		held = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=self.marker)
		other = jobkit.enqueue("jobkit.tests.jobs.record", queue="default", marker=f"{self.marker}-other")
		frappe.db.commit()
		api.pause_queue(QUEUE)
		try:
			run_jobkit_worker(queue=f"{QUEUE},default")  # one worker listening on both queues
			self.assertEqual(self.recorded(f"{self.marker}-other"), 1)
			self.assertEqual(other.status, "finished")
			self.assertEqual((self.recorded(self.marker), held.status), (0, "queued"))
			overview = jobs_page.overview()
			shown = {q["name"]: q for q in overview["queues"]}
			self.assertTrue(shown[QUEUE]["paused"])
			self.assertFalse(shown["default"]["paused"])
			self.assertGreaterEqual(shown[QUEUE]["pending"], 1)
			# The health report names the pause as a note, not a fault: its waiting jobs are no backlog.
			about_queue = {f["check"]: f["severity"] for f in overview["findings"] if f["queue"] == QUEUE}
			self.assertEqual(about_queue.get("paused"), "OK")
		finally:
			api.resume_queue(QUEUE)
		run_jobkit_worker()
		self.assertEqual((self.recorded(self.marker), held.status), (1, "finished"))

	# Scheduled -------------------------------------------------------------------------------------

	def test_a_scheduled_job_is_listed_then_run_now(self):
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, delay=3600, marker=self.marker)
		frappe.db.commit()
		listed = {row["rq_id"]: row for row in jobs_page.scheduled()["jobs"]}
		self.assertIn(handle.rq_id, listed)
		self.assertAlmostEqual(listed[handle.rq_id]["due_at"], time.time() + 3600, delta=120)
		self.assertEqual(listed[handle.rq_id]["attempt"], 1)

		api.run_scheduled_job_now(handle.rq_id)
		self.assertEqual(handle.status, "queued")
		with self.assertRaisesRegex(frappe.ValidationError, "is queued, not scheduled"):
			api.run_scheduled_job_now(handle.rq_id)
		run_jobkit_worker()
		self.assertEqual(self.recorded(self.marker), 1)

	def test_a_cancelled_scheduled_job_never_runs_frees_its_key_and_leaves_a_record(self):
		job_id = f"jobkit-test-cancel-{uuid4().hex[:8]}"
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, delay=1, marker=self.marker
		)
		frappe.db.commit()
		self.assertTrue(jobkit.is_enqueued(job_id))
		api.cancel_scheduled_job(handle.rq_id)
		self.assertFalse(jobkit.is_enqueued(job_id))
		record = frappe.get_all(
			"Jobkit Skipped Run", {"rq_job_id": handle.rq_id}, ["reason", "error", "job_id"]
		)
		self.assertEqual(
			[(r.reason, r.job_id, r.error) for r in record],
			[("Cancelled", job_id, "cancelled by Administrator")],
		)
		time.sleep(1.5)  # past its due time: a promoter would have queued it had it still waited
		jobkit.promote_due()
		run_jobkit_worker()
		self.assertEqual(self.recorded(self.marker), 0)
		with self.assertRaisesRegex(frappe.ValidationError, "does not exist"):
			api.cancel_scheduled_job(handle.rq_id)
		again = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, marker=self.marker)
		self.assertFalse(again.duplicate)
		frappe.db.commit()
		run_jobkit_worker()
		self.assertEqual(self.recorded(self.marker), 1)

	def test_a_job_of_another_site_or_none_is_refused(self):
		for rq_id, message in (("no-such-job", "does not exist"), ("", "must be an RQ job id")):
			with self.assertRaisesRegex(frappe.ValidationError, message):
				api.run_scheduled_job_now(rq_id)
		other = host.rq_queue(QUEUE).enqueue("jobkit.tests.jobs.record_plain", marker=self.marker)
		try:
			with self.assertRaisesRegex(frappe.ValidationError, "not a job of this site"):
				api.stop_job(other.id)
		finally:
			other.delete()

	# Failed: bulk actions on everything matching --------------------------------------------------

	def failed_record(self, job_id: str, error_type: str, method: str = "jobkit.tests.jobs.record") -> str:
		envelope = Envelope.new(
			job_id=f"jobkit-test-{job_id}",
			method=method,
			kwargs={"marker": self.marker},
			namespace=host.namespace,
			queue=QUEUE,
			timeout=60,
			user="Administrator",
			lease=host.lease_seconds,
		)
		error = type(error_type, (Exception,), {})(f"bulk {job_id}")
		letter = dead_letter.DeadLetter.of(
			envelope, f"{frappe.local.site}::{uuid4().hex}", error, "Traceback"
		)
		return failed_jobs.record(letter)

	def test_bulk_retry_retries_every_matching_record_not_only_a_page(self):
		matching = [self.failed_record(f"bulk-{i}", "BulkTimeout") for i in range(BULK_RECORDS)]
		other = [self.failed_record(f"other-{i}", "OtherError") for i in range(3)]
		frappe.db.commit()
		filters = {"method": "jobkit.tests.jobs.record", "error_type": "BulkTimeout"}
		self.assertEqual(api.count_failed_jobs(filters)["count"], BULK_RECORDS)
		started = api.bulk_failed_jobs("retry", filters)
		self.assertEqual(started["count"], BULK_RECORDS)
		frappe.db.commit()
		run_jobkit_worker(queue="default")  # the bulk job

		statuses = frappe.get_all(
			failed_jobs.DOCTYPE, {"name": ("in", matching)}, pluck="status", distinct=True
		)
		self.assertEqual(statuses, [failed_jobs.RETRIED])
		self.assertEqual(
			set(frappe.get_all(failed_jobs.DOCTYPE, {"name": ("in", other)}, pluck="status")),
			{failed_jobs.FAILED},
		)
		# Each is a new job on its queue (taken off here: running 230 of them proves nothing more).
		retried = frappe.get_all(failed_jobs.DOCTYPE, {"name": ("in", matching)}, pluck="retried_as")
		queue = host.rq_queue(QUEUE)
		self.assertEqual(len(set(retried) & set(queue.job_ids)), BULK_RECORDS)
		for rq_id in retried:
			queue.fetch_job(rq_id).delete()  # off its queue too
		bulk = host.rq_queue("default").fetch_job(started["rq_id"])
		self.assertEqual(bulk.latest_result().return_value["done"], BULK_RECORDS)
		self.assertEqual(api.count_failed_jobs(filters)["count"], 0)

		# Discard takes the other filter; a filter matching nothing is refused before any job.
		api.bulk_failed_jobs("discard", {"error_type": "OtherError", "method": "jobkit.tests.jobs.record"})
		frappe.db.commit()
		run_jobkit_worker(queue="default")
		self.assertEqual(
			set(frappe.get_all(failed_jobs.DOCTYPE, {"name": ("in", other)}, pluck="status")),
			{failed_jobs.DISCARDED},
		)
		with self.assertRaisesRegex(frappe.ValidationError, "No Failed record matches"):
			api.bulk_failed_jobs("retry", filters)

	def test_bulk_filters_are_checked(self):
		for filters, message in (
			({"status": "Retried"}, "filters must be an object with any of method, error_type"),
			({"from_date": "yesterday-ish"}, "from_date must be a date"),
			({"method": ["a"]}, "method must be a text"),
			("[1]", "filters must be an object"),
		):
			with self.assertRaisesRegex(frappe.ValidationError, message):
				api.count_failed_jobs(filters)
		with self.assertRaisesRegex(frappe.ValidationError, "action must be one of retry, discard"):
			api.bulk_failed_jobs("delete", {})

	def test_a_to_date_takes_the_whole_day_it_names(self):
		name = self.failed_record(f"date-{uuid4().hex[:6]}", "DatedError")
		day = frappe.db.get_value(failed_jobs.DOCTYPE, name, "last_failed_at").date()
		filters = {"error_type": "DatedError", "from_date": str(day), "to_date": str(day)}
		self.assertEqual(api.count_failed_jobs(filters)["count"], 1)
		filters["to_date"] = str(day - timedelta(days=1))
		self.assertEqual(api.count_failed_jobs(filters)["count"], 0)

	# Roll-up into Jobkit Job Stat ----------------------------------------------------------------

	def test_the_hourly_roll_up_writes_each_method_of_an_hour_once(self):
		connection, site = host.connection, frappe.local.site
		method = f"jobkit.tests.rolled_up_{uuid4().hex[:8]}"
		hour = stats.truncate(datetime.now(timezone.utc), stats.HOUR) - timedelta(hours=2)
		for duration in (10, 20, 3000):
			stats.record(
				connection, site, QUEUE, method, duration, 5, duration > 1000, at=hour.timestamp() + 60
			)
		marker = keys.stats_rolled_up(site)
		kept = connection.get(marker)
		connection.set(marker, (hour - timedelta(hours=1)).strftime("%Y%m%d%H"))
		try:
			job_stats.roll_up()
			job_stats.roll_up()  # again: nothing new, nothing twice
			rows = frappe.get_all(
				job_stats.DOCTYPE, {"method": method}, ["runs", "failures", "failure_rate", "p95_ms", "queue"]
			)
			self.assertEqual(len(rows), 1)
			self.assertEqual((rows[0].runs, rows[0].failures, rows[0].queue), (3, 1, QUEUE))
			self.assertAlmostEqual(rows[0].failure_rate, 100 / 3, places=1)
			self.assertGreaterEqual(rows[0].p95_ms, 2500)
		finally:
			frappe.db.delete(job_stats.DOCTYPE, {"method": method})
			frappe.db.commit()
			if kept:
				connection.set(marker, kept, ex=stats.HOURS_KEPT)
			# The made-up method leaves the site's stats as they were.
			moment = hour + timedelta(minutes=1)
			for key in (
				keys.stats_totals(site),
				keys.stats(site, stats.HOUR, f"{hour:%Y%m%d%H}"),
				keys.stats(site, stats.MINUTE, f"{moment:%Y%m%d%H%M}"),
			):
				connection.hdel(key, *[f for f in connection.hkeys(key) if method in f.decode()] or ["-"])
			connection.zrem(keys.stats_methods(site), method)

	def test_the_scheduler_runs_the_roll_up_hourly(self):
		self.assertIn("jobkit.tasks.stats.roll_up", frappe.get_hooks("scheduler_events")["hourly"])
		result = run_bench("--site", frappe.local.site, "execute", "jobkit.tasks.stats.roll_up")
		self.assertEqual(result.returncode, 0, result.stderr)


class TestRunningJobs(SiteJobsTestCase):
	"""Started jobs on a live `bench jobkit-worker`: listed with their progress, cancelled or stopped."""

	def setUp(self):
		frappe.set_user("Administrator")
		self.marker = f"jobkit-test-{uuid4().hex}"
		self.worker = subprocess.Popen(
			[*BENCH_HELPER, "jobkit-worker", "--queue", QUEUE],
			cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
			stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL,
		)
		self.addCleanup(self.stop_worker)

	def stop_worker(self):
		self.worker.terminate()  # a warm shutdown: the worker ends the job it runs first
		try:
			self.worker.wait(timeout=WORKER_TIMEOUT_SECONDS)
		except subprocess.TimeoutExpired:
			self.worker.kill()

	def wait_for(self, condition, what: str, timeout: float = 60):
		deadline = time.monotonic() + timeout
		while time.monotonic() < deadline:
			found = condition()
			if found:
				return found
			time.sleep(0.2)
		raise AssertionError(f"timed out after {timeout} s waiting for {what}")

	def running_row(self, rq_id: str, with_progress: bool = False):
		row = next((r for r in jobs_page.running() if r["rq_id"] == rq_id), None)
		return row if row and (row["progress"] or not with_progress) else None

	def ended(self, marker: str) -> list[str]:
		frappe.db.commit()
		return frappe.get_all("ToDo", {"description": ("like", f"{marker}|%")}, pluck="description")

	def test_a_running_job_is_shown_with_its_progress_and_cancelled_when_asked(self):
		handle = jobkit.enqueue("jobkit.tests.jobs.report_until_cancelled", queue=QUEUE, marker=self.marker)
		frappe.db.commit()
		row = self.wait_for(lambda: self.running_row(handle.rq_id, True), "the job to report progress")
		self.assertEqual((row["method"], row["queue"], row["status"]), (
			"jobkit.tests.jobs.report_until_cancelled", QUEUE, "started"
		))  # fmt: skip
		self.assertEqual(row["user"], "Administrator")
		self.assertEqual(row["progress"]["total"], 120 * 20)  # the job's own total
		self.assertGreater(row["timeout"], 0)
		api.cancel_running_job(handle.rq_id)
		self.assertEqual(
			self.wait_for(lambda: self.ended(self.marker), "the job to end"),
			[f"{self.marker}|cancelled=True"],
		)

	def test_stop_ends_a_job_that_reports_nothing_and_cancel_says_to_use_it(self):
		handle = jobkit.enqueue("jobkit.tests.jobs.sleep_quietly", queue=QUEUE, marker=self.marker)
		frappe.db.commit()
		# Its status, not only its entry in RQ's started registry: rq 2.x writes the entry a moment
		# before the status.
		self.wait_for(
			lambda: (self.running_row(handle.rq_id) or {}).get("status") == "started", "the job to start"
		)
		with self.assertRaisesRegex(frappe.ValidationError, "reports no progress.*use Stop"):
			api.cancel_running_job(handle.rq_id)
		api.stop_job(handle.rq_id)
		self.wait_for(lambda: handle.status not in ("started", "queued"), "the job to be stopped", timeout=30)
		self.assertEqual(self.ended(self.marker), [])
		self.assertIsNone(self.running_row(handle.rq_id))
