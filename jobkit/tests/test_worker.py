"""`bench jobkit-worker`: Frappe's `bench worker` running jobkit's worker class."""

import os
import subprocess
import sys
import time
from uuid import uuid4

import frappe
from rq import Queue

import jobkit
from jobkit.engine import defaults, reaper
from jobkit.tests.utils import BENCH_HELPER, TEST_USER, WORKER_TIMEOUT_SECONDS, SiteJobsTestCase, run_bench

QUEUE = "short"
# Jobs a worker runs before its jobs' memory is measured (Frappe's own test runs after others too).
MEMORY_WARM_UP_JOBS = 10
# How much more a job under jobkit-worker may hold than under bench worker. It holds less (measured:
# -2.3 % on v15, -3.3 % on v16), and the same job differs by a few pages from one worker process to
# the next, where one more import before the fork adds more (jobkit's runner and site host: 1.6 %).
MEMORY_TOLERANCE = 0.01


def run_jobkit_worker(*options: str, command: str = "jobkit-worker", queue: str = QUEUE) -> str:
	"""Run `bench <command> --queue <queue> --burst <options>`; ``queue`` may name several (a,b)."""
	result = subprocess.run(
		[*BENCH_HELPER, command, "--queue", queue, "--burst", *options],
		cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
		capture_output=True,
		text=True,
		timeout=WORKER_TIMEOUT_SECONDS,
	)
	output = result.stdout + result.stderr
	if result.returncode != 0:
		raise AssertionError(f"bench {command} exited {result.returncode}:\n{output}")
	return output


class TestJobkitWorker(SiteJobsTestCase):
	def recorded(self, marker: str) -> list[dict]:
		frappe.db.commit()
		return frappe.get_all("ToDo", filters={"description": ("like", f"{marker}|%")}, fields=["owner"])

	def test_it_runs_jobkit_jobs_and_frappes_own_as_bench_worker_does(self):
		marker = f"jobkit-test-{uuid4().hex}"
		frappe.set_user(TEST_USER)
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=marker)
		frappe.set_user("Administrator")
		frappes = frappe.enqueue("jobkit.tests.jobs.record_plain", queue=QUEUE, marker=f"{marker}-frappe")
		frappe.db.commit()

		output = run_jobkit_worker("--quiet")

		self.assertEqual([row.owner for row in self.recorded(marker)], [TEST_USER])
		self.assertEqual(len(self.recorded(f"{marker}-frappe")), 1)
		self.assertEqual(handle.status, "finished")
		self.assertEqual(frappes.get_status(refresh=True), "finished")
		self.assertNotIn("Traceback", output)

	def test_a_job_taken_by_a_worker_killed_before_it_started_it_is_given_back_and_runs_once(self):
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=marker)
		queue = jobkit.get_host().rq_queue(QUEUE)
		# jobkit-worker's own worker takes the job with its own pop and is killed (SIGKILL) before
		# it starts it.
		lost = subprocess.Popen(
			[sys.executable, "-m", "jobkit.tests.lost_worker", QUEUE],
			cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
			stdout=subprocess.PIPE,
			text=True,
		)
		try:
			taken = lost.stdout.readline().strip()
		finally:
			lost.kill()
			lost.communicate(timeout=WORKER_TIMEOUT_SECONDS)
		self.assertEqual(taken, handle.rq_id)
		self.assertNotIn(handle.rq_id, queue.job_ids)
		run_jobkit_worker()  # finds nothing to run: the job is off its queue
		self.assertEqual(self.recorded(marker), [])

		reaped = reaper.reap(jobkit.get_host(), now=time.time() + defaults.TAKEN_SECONDS + 1)
		self.assertIn(handle.rq_id, [r.rq_id for r in reaped])
		self.assertIn(handle.rq_id, Queue(queue.name, connection=queue.connection).job_ids)
		run_jobkit_worker()
		self.assertEqual(len(self.recorded(marker)), 1)
		self.assertEqual(handle.status, "finished")

	def test_its_jobs_carry_no_more_memory_than_under_bench_worker(self):
		# A forking worker's jobs carry what the worker loaded; jobkit-worker's process loads no bench
		# command (jobkit.site.worker). Measured as Frappe's test_memory_usage measures it: a job of a
		# long-running worker that has run others before, in one run for both commands.
		def job_memory(command: str) -> int:
			worker = subprocess.Popen(
				[*BENCH_HELPER, command, "--queue", QUEUE, "--quiet"],
				cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
				stdout=subprocess.DEVNULL,
				stderr=subprocess.DEVNULL,
			)
			try:
				warm_up = [frappe.enqueue("frappe.ping", queue=QUEUE) for _ in range(MEMORY_WARM_UP_JOBS)]
				measured = [
					frappe.enqueue("jobkit.tests.jobs.resident_kilobytes", queue=QUEUE) for _ in range(3)
				]
				frappe.db.commit()
				deadline = time.monotonic() + WORKER_TIMEOUT_SECONDS
				while any(job.get_status(refresh=True) != "finished" for job in [*warm_up, *measured]):
					self.assertLess(time.monotonic(), deadline, f"bench {command} did not run the jobs")
					time.sleep(0.2)
			finally:
				worker.terminate()
				worker.wait(timeout=WORKER_TIMEOUT_SECONDS)
			return max(job.latest_result().return_value for job in measured)

		bench_worker, jobkit_worker = job_memory("worker"), job_memory("jobkit-worker")
		self.assertLessEqual(
			jobkit_worker,
			bench_worker * (1 + MEMORY_TOLERANCE),
			f"kB resident in a job: {jobkit_worker} (jobkit-worker), {bench_worker} (bench worker)",
		)

	def test_its_process_is_the_commands_own_and_loads_no_bench_command(self):
		# The bench command's process becomes the worker (the pid a process manager knows), without
		# the command line of every app that `bench` loaded first.
		job = frappe.enqueue("jobkit.tests.jobs.worker_process", queue=QUEUE)
		frappe.db.commit()
		run_jobkit_worker("--quiet")
		seen = job.latest_result().return_value
		self.assertIn("jobkit.site.worker", seen["worker_command_line"])
		self.assertFalse(seen["bench_commands_loaded"])
		self.assertEqual(seen["job_hooks_not_loaded"], [])  # no work-horse imports them again

	def test_a_paused_queue_starts_no_job_on_it_until_resumed(self):
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=marker)
		was_paused = QUEUE in jobkit.paused_queues()
		try:
			jobkit.pause_queue(QUEUE)
			run_jobkit_worker()
			self.assertEqual(self.recorded(marker), [])
			self.assertEqual(handle.status, "queued")
		finally:
			if not was_paused:
				jobkit.resume_queue(QUEUE)
		run_jobkit_worker()
		self.assertEqual(len(self.recorded(marker)), 1)

	def test_bench_jobkit_pause_and_resume(self):
		site = frappe.local.site
		refused = run_bench("--site", site, "jobkit", "pause", "nope")
		self.assertEqual(refused.returncode, 2, refused.stderr)
		self.assertIn("unknown queue 'nope'", refused.stderr)
		if "long" in jobkit.paused_queues():
			self.skipTest("the long queue was paused before the test")  # the bench is left as found
		paused = run_bench("--site", site, "jobkit", "pause", "long")
		try:
			self.assertEqual(paused.returncode, 0, paused.stderr)
			self.assertIn("long", jobkit.paused_queues())
		finally:
			resumed = run_bench("--site", site, "jobkit", "resume", "long")
		self.assertEqual(resumed.returncode, 0, resumed.stderr)
		self.assertNotIn("long", jobkit.paused_queues())

	def test_bad_options_are_refused_as_bench_worker_refuses_them(self):
		result = subprocess.run(
			[*BENCH_HELPER, "jobkit-worker", "--strategy", "fastest", "--burst"],
			cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
			capture_output=True,
			text=True,
			timeout=WORKER_TIMEOUT_SECONDS,
		)
		self.assertNotEqual(result.returncode, 0)
		self.assertIn("fastest", result.stderr)
