"""Flow control on a real bench: a limit held across two `bench jobkit-worker` processes (and by a
stock `bench worker`), a rate-limited job's wait bounded into a Jobkit Failed Job, the limits on
the Jobs page, and `bench jobkit doctor` flagging a key whose oldest waiting job waited too long."""

import os
import subprocess
import time
from uuid import uuid4

import frappe

import jobkit
from jobkit.engine.limits import gates
from jobkit.site import jobs_page
from jobkit.site.host import host
from jobkit.site.records import failed_jobs, health_checks
from jobkit.tests.utils import (
	BENCH_HELPER,
	WORKER_TIMEOUT_SECONDS,
	SiteJobsTestCase,
	run_bench,
	run_bench_worker,
)

QUEUE = "short"
JOBS = 12


class TestLimits(SiteJobsTestCase):
	def setUp(self):
		frappe.set_user("Administrator")
		self.marker = f"jobkit-test-{uuid4().hex}"

	def tearDown(self):
		connection = host.connection
		for suffix in ("seen", "workers", "done", "running"):
			connection.delete(f"{self.marker}:{suffix}")
		# The test's gates go with it (a rate's starts would count for an hour on the bench).
		for gate in gates.state(connection, frappe.local.site):
			if gate["key"].startswith(self.marker):
				base = gates.GATE.format(gate_id=gate["gate"])
				connection.delete(f"{base}:held", f"{base}:starts", f"{base}:waiting")
				connection.hdel(gates.GATES, gate["gate"])
		super().tearDown()

	def read(self, suffix: str) -> list[str]:
		return [value.decode() for value in host.connection.lrange(f"{self.marker}:{suffix}", 0, -1)]

	def enqueue_limited(self, shop: str, n: int = JOBS, **options):
		return [
			jobkit.enqueue(
				"jobkit.tests.jobs.limited_sleep",
				queue=QUEUE,
				marker=self.marker,
				shop=shop,
				concurrency=jobkit.Limit(f"{self.marker}::{{shop}}", 2),
				**options,
			)
			for _ in range(n)
		]

	def test_a_limit_holds_across_two_jobkit_workers(self):
		handles = self.enqueue_limited("acme")
		frappe.db.commit()
		self.assertEqual([h.status for h in handles].count("deferred"), JOBS - 2)
		# Two `bench jobkit-worker` processes at once; each let-in job is queued before its
		# predecessor's run ends, so burst workers go on until the last.
		workers = [
			subprocess.Popen(
				[*BENCH_HELPER, "jobkit-worker", "--queue", QUEUE, "--burst"],
				cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
				stdout=subprocess.DEVNULL,
				stderr=subprocess.PIPE,
				text=True,
			)
			for _ in range(2)
		]
		for worker in workers:
			_, errors = worker.communicate(timeout=WORKER_TIMEOUT_SECONDS)
			self.assertEqual(worker.returncode, 0, errors)
		self.assertEqual(len(self.read("done")), JOBS)
		self.assertLessEqual(max(map(int, self.read("seen"))), 2)
		self.assertEqual(max(map(int, self.read("seen"))), 2)  # both places were used
		self.assertEqual(len(set(self.read("workers"))), 2)  # by both workers
		self.assertTrue(all(h.status == "finished" for h in handles))

	def test_a_stock_bench_worker_honours_it_too(self):
		handles = self.enqueue_limited("globex", n=5)
		frappe.db.commit()
		run_bench_worker(QUEUE)
		self.assertEqual(len(self.read("done")), 5)
		self.assertLessEqual(max(map(int, self.read("seen"))), 2)
		self.assertTrue(all(h.status == "finished" for h in handles))

	def test_the_jobs_page_and_doctor_show_a_key_that_waits_too_long(self):
		handles = self.enqueue_limited("initech", n=4)
		frappe.db.commit()
		# The oldest waiting job has waited 700 s (past the 600 s warning).
		waiting = next(h for h in handles if h.status == "deferred")
		host.connection.hset(f"rq:job:{waiting.rq_id}", gates.WAITING_SINCE_FIELD, repr(time.time() - 700))
		overview = jobs_page.overview()
		[limit] = [row for row in overview["limits"] if row["key"] == f"{self.marker}::initech"]
		self.assertEqual((limit["held"], limit["waiting"]), (2, 2))
		self.assertGreaterEqual(limit["oldest_wait_seconds"], 700)
		result = run_bench("--site", frappe.local.site, "jobkit", "doctor")
		self.assertIn(
			f"limit      {self.marker}::initech: at most 2 at once: taken 2  waiting 2", result.stdout
		)
		self.assertIn(f"limit_wait: 2 job(s) wait at the limit {self.marker}::initech", result.stdout)
		# The stored snapshot keeps the key's row and the finding.
		record = frappe.get_doc(health_checks.DOCTYPE, health_checks.take_snapshot())
		[row] = [row for row in record.limits if row.limit_key == f"{self.marker}::initech"]
		self.assertEqual((row.held, row.waiting), (2, 2))
		self.assertEqual(row.rule, f"{self.marker}::initech: at most 2 at once")
		self.assertIn("limit_wait", [finding.check for finding in record.findings])
		record.delete()
		run_bench_worker(QUEUE)
		self.assertEqual(len(self.read("done")), 4)

	def test_a_rate_limited_job_that_waits_past_its_bound_is_a_failed_job(self):
		rate = jobkit.Rate(f"{self.marker}-bank", 1, per=3600, max_wait=0.2)
		handles = [
			jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=self.marker, rate=rate)
			for _ in range(2)
		]
		frappe.db.commit()
		self.assertEqual([h.status for h in handles], ["queued", "deferred"])
		time.sleep(0.3)
		jobkit.promote_due()  # the scheduler's per-minute entry: the gates' timer and the records
		frappe.db.commit()
		[name] = frappe.get_all(failed_jobs.DOCTYPE, {"rq_job_id": handles[1].rq_id}, pluck="name")
		record = frappe.get_doc(failed_jobs.DOCTYPE, name)
		self.assertEqual(record.error_type, "WaitedTooLong")
		self.assertIn(f"{self.marker}-bank: at most 1 starts per 3600 s", record.error)
		run_bench_worker(QUEUE)
		self.assertEqual(handles[0].status, "finished")

	def test_a_delayed_limited_job_is_on_the_jobs_page_and_runs_now_or_is_cancelled(self):
		[later] = self.enqueue_limited("umbrella", n=1, delay=600)
		[cancelled] = self.enqueue_limited("umbrella", n=1, delay=600)
		frappe.db.commit()
		rows = {row["rq_id"]: row for row in jobs_page.scheduled()["jobs"]}
		self.assertIn(later.rq_id, rows)
		self.assertEqual(later.status, "scheduled")
		self.assertIn("queued", jobs_page.run_scheduled_now(later.rq_id))
		self.assertEqual(later.status, "queued")
		jobs_page.cancel_scheduled(cancelled.rq_id)
		frappe.db.commit()
		self.assertTrue(
			frappe.db.exists("Jobkit Skipped Run", {"rq_job_id": cancelled.rq_id, "reason": "Cancelled"})
		)
		self.assertNotIn(cancelled.rq_id, [row["rq_id"] for row in jobs_page.scheduled()["jobs"]])
		run_bench_worker(QUEUE)
		self.assertEqual(later.status, "finished")
		self.assertEqual(self.read("done"), ["umbrella"])
