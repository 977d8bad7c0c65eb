"""A run killed on a real bench worker is found by the scheduler's reaper and recorded."""

import os
import signal
import subprocess
import time
from uuid import uuid4

import frappe

import jobkit
from jobkit.tasks.reap import reap_lost_runs
from jobkit.tests.utils import BENCH_HELPER, WORKER_TIMEOUT_SECONDS, SiteJobsTestCase, run_bench_worker

QUEUE = "short"
LEASE_SECONDS = 1


class TestReaper(SiteJobsTestCase):
	def setUp(self):
		super().setUp()
		# The enqueuing side's lease travels with the job: short, so the lost run is found at once.
		self.previous_lease = frappe.local.conf.get("jobkit_lease_seconds")
		frappe.local.conf.jobkit_lease_seconds = LEASE_SECONDS

	def tearDown(self):
		frappe.local.conf.jobkit_lease_seconds = self.previous_lease
		super().tearDown()

	def start_worker(self) -> subprocess.Popen:
		return subprocess.Popen(
			[*BENCH_HELPER, "worker", "--queue", QUEUE, "--burst"],
			cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
			stdout=subprocess.DEVNULL,
			stderr=subprocess.DEVNULL,
		)

	def kill_the_run(self, marker: str, worker: subprocess.Popen) -> None:
		"""SIGKILL the process running the job of ``marker`` (it publishes its pid), then let the
		burst ``worker`` note the loss and exit."""
		try:
			pid = self.wait_for(lambda: frappe.cache.get(f"jobkit-test-pid:{marker}"), "the job to start")
			os.kill(int(pid), signal.SIGKILL)
			worker.wait(timeout=WORKER_TIMEOUT_SECONDS)
		finally:
			if worker.poll() is None:
				worker.kill()

	def wait_for(self, predicate, what: str, timeout: float = 60):
		deadline = time.monotonic() + timeout
		while not (value := predicate()):
			if time.monotonic() > deadline:
				self.fail(f"timed out after {timeout}s waiting for {what}")
			time.sleep(0.2)
		return value

	def test_the_reaper_is_a_scheduled_job_of_the_site(self):
		self.assertTrue(
			frappe.db.exists(
				"Scheduled Job Type",
				{
					"method": "jobkit.tasks.reap.reap_lost_runs",
					"frequency": "Cron",
					"cron_format": "* * * * *",
				},
			)
		)

	def test_a_killed_run_becomes_a_failed_job_and_frees_its_job_id(self):
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.hang_until_killed", queue=QUEUE, job_id=marker, marker=marker, api_key="sk-x1"
		)
		self.kill_the_run(marker, self.start_worker())  # its work-horse, as the OOM killer would
		self.assertEqual(handle.status, "failed")  # RQ's view; nothing recorded for the site yet
		self.assertFalse(frappe.get_all("Jobkit Failed Job", filters={"job_id": marker}))

		def recorded():
			reap_lost_runs()  # what the scheduler runs every minute
			return frappe.get_all("Jobkit Failed Job", filters={"job_id": marker}, pluck="name")

		[name] = self.wait_for(recorded, "the reaper to record the lost run")
		record = frappe.get_doc("Jobkit Failed Job", name)
		self.assertEqual(record.status, "Failed")
		self.assertEqual(record.method, "jobkit.tests.jobs.hang_until_killed")
		self.assertEqual(record.attempts, 1)
		self.assertIn(
			"WorkerLost: the process running attempt 1 of jobkit.tests.jobs.hang_until_killed", record.error
		)
		self.assertIn('"api_key": "********"', record.kwargs)
		self.assertNotIn("sk-x1", record.kwargs)

		# The job id is free at once (not after the key's TTL), and a second reap finds nothing.
		self.assertFalse(jobkit.is_enqueued(marker))
		again = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=marker, marker=marker)
		self.assertFalse(again.duplicate)
		run_bench_worker(QUEUE)
		self.assertEqual(again.status, "finished")
		reap_lost_runs()
		self.assertEqual(len(frappe.get_all("Jobkit Failed Job", filters={"job_id": marker})), 1)

	def test_a_killed_unique_run_whose_key_a_newer_call_took_is_superseded_with_a_record(self):
		marker = f"jobkit-test-{uuid4().hex}"
		retry = jobkit.Retry(max_attempts=3, backoff=1, jitter=False)
		killed = jobkit.enqueue(
			"jobkit.tests.jobs.hang_until_killed", queue=QUEUE, job_id=marker, retry=retry, marker=marker
		)
		self.kill_the_run(marker, self.start_worker())

		# The run's key lapses with its lease, and a newer call takes it before the reaper runs.
		def newer_call():
			handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=marker, marker=marker)
			return None if handle.duplicate else handle

		newer = self.wait_for(newer_call, "the killed run's key to lapse")
		reaped = self.wait_for(jobkit.reap, "the reaper to take the lost run")  # what reap_lost_runs calls
		self.assertEqual([(r.outcome, r.holder) for r in reaped], [("superseded", newer.rq_id)])
		self.assertEqual(killed.status, "superseded")
		self.assertEqual(killed.superseded_by, newer.rq_id)

		[name] = frappe.get_all("Jobkit Skipped Run", filters={"job_id": marker}, pluck="name")
		record = frappe.get_doc("Jobkit Skipped Run", name)
		self.assertEqual((record.reason, record.running_job, record.attempt), ("Superseded", newer.rq_id, 2))
		self.assertEqual(record.rq_job_id, killed.rq_id)
		self.assertEqual(record.user, "Administrator")
		self.assertIn(f'"marker": "{marker}"', record.kwargs)
		self.assertIn("WorkerLost: the process running attempt 1", record.error)
		self.assertFalse(frappe.get_all("Jobkit Failed Job", filters={"job_id": marker}))

		# The newer call is the job's run: it runs, and a later reap writes nothing more.
		run_bench_worker(QUEUE)
		self.assertEqual(newer.status, "finished")
		reap_lost_runs()
		self.assertEqual(len(frappe.get_all("Jobkit Skipped Run", filters={"job_id": marker})), 1)

	def test_a_no_fork_worker_runs_jobkit_jobs_and_its_killed_run_is_retried(self):
		# Frappe v16's worker pool runs jobs in the worker process itself with this variable set
		# (v15's pool forks, whatever it says): a kill then takes the worker with its run.
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.hang_on_first_attempt",
			queue=QUEUE,
			retry=jobkit.Retry(max_attempts=2, backoff=1, jitter=False),
			marker=marker,
		)
		pool = [*BENCH_HELPER, "worker-pool", "--queue", QUEUE, "--num-workers", "1", "--burst"]
		sites = os.path.join(frappe.utils.get_bench_path(), "sites")
		env = {**os.environ, "FRAPPE_BACKGROUND_WORKERS_NOFORK": "1"}
		self.kill_the_run(
			marker,
			subprocess.Popen(pool, cwd=sites, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
		)
		reaped = self.wait_for(jobkit.reap, "the reaper to take the lost run")
		self.assertEqual([r.outcome for r in reaped], ["retried"])
		self.wait_for(lambda: jobkit.promote_due() or handle.status == "queued", "attempt 2 to be queued")
		result = subprocess.run(pool, cwd=sites, env=env, capture_output=True, text=True, timeout=300)
		self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
		self.assertEqual(handle.status, "finished")
		self.assertEqual(handle.fetch().return_value(), marker)
