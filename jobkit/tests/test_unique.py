"""Unique jobs on a real site: a race of real processes, Frappe's own look-ups, unlock tools."""

import json
import os
import subprocess
import sys
import time
from uuid import uuid4

import frappe
from frappe.utils import background_jobs

import jobkit
from jobkit import api
from jobkit.tests.utils import (
	JobkitTestCase,
	delete_test_records,
	enforced_permissions,
	ensure_user,
	run_bench,
	run_bench_worker,
)

QUEUE = "short"
RACERS = 8
ATTEMPTS = 200
PLAIN_USER = "jobkit.plain@example.com"

RACER = """
import json, sys
import frappe
site, job_id, barrier, attempts = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
frappe.init(site=site)
frappe.connect()
import jobkit
connection = jobkit.get_host().connection
connection.incr(barrier + ":ready")
connection.blpop([barrier], timeout=120)
claimed, errors = 0, []
for _ in range(attempts):
	try:
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue="short", job_id=job_id, marker=job_id)
		claimed += not handle.duplicate
	except Exception as e:
		errors.append(repr(e))
frappe.destroy()
print(json.dumps({"claimed": claimed, "errors": errors[:3]}))
"""


class TestUnique(JobkitTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		ensure_user(PLAIN_USER, "Plain")

	def tearDown(self):
		delete_test_records()

	def recorded(self, marker: str) -> int:
		frappe.db.commit()
		return frappe.db.count("ToDo", {"description": ("like", f"{marker}|%")})

	def test_racing_processes_each_connected_to_the_site_enqueue_one_job(self):
		job_id = f"jobkit-test-race-{uuid4().hex[:8]}"
		barrier = f"jobkit-test-barrier-{uuid4().hex}"
		connection = jobkit.get_host().connection
		racers = [
			subprocess.Popen(
				[sys.executable, "-c", RACER, frappe.local.site, job_id, barrier, str(ATTEMPTS)],
				cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
				stdout=subprocess.PIPE,
				stderr=subprocess.PIPE,
				text=True,
			)
			for _ in range(RACERS)
		]
		try:
			for _ in range(600):
				if int(connection.get(f"{barrier}:ready") or 0) == RACERS:
					break
				time.sleep(0.1)
			connection.rpush(barrier, *["go"] * RACERS)
			results = []
			for racer in racers:
				out, err = racer.communicate(timeout=300)
				self.assertEqual(racer.returncode, 0, err)
				results.append(json.loads(out.strip().splitlines()[-1]))
		finally:
			connection.delete(barrier, f"{barrier}:ready")

		self.assertEqual([e for result in results for e in result["errors"]], [])
		self.assertEqual(sum(result["claimed"] for result in results), 1)
		self.assertTrue(background_jobs.is_job_enqueued(job_id))
		run_bench_worker(QUEUE)
		self.assertEqual(self.recorded(job_id), 1)
		self.assertFalse(background_jobs.is_job_enqueued(job_id))

	def test_frappe_sees_jobkit_unique_jobs(self):
		job_id = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, marker=job_id)
		self.assertNotEqual(handle.rq_id, background_jobs.create_job_id(job_id))  # a fresh id per enqueue
		self.assertTrue(background_jobs.is_job_enqueued(job_id))
		self.assertEqual(background_jobs.get_job(job_id).id, handle.rq_id)
		# frappe.enqueue(deduplicate=True) with the same id respects the jobkit job.
		self.assertIsNone(
			frappe.enqueue(
				"jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, deduplicate=True, marker=job_id
			)
		)
		self.assertTrue(jobkit.is_enqueued(job_id))

		run_bench_worker(QUEUE)
		self.assertFalse(background_jobs.is_job_enqueued(job_id))
		self.assertFalse(jobkit.is_enqueued(job_id))
		self.assertEqual(self.recorded(job_id), 1)

	def test_a_duplicate_enqueued_after_commit_learns_its_holder_at_commit(self):
		job_id = f"jobkit-test-{uuid4().hex}"
		first = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, marker=job_id)
		later = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, enqueue_after_commit=True, marker=job_id
		)
		self.assertEqual(later.status, "waiting for commit")
		frappe.db.commit()
		self.assertTrue(later.duplicate)
		self.assertEqual(later.rq_id, first.rq_id)
		run_bench_worker(QUEUE)
		self.assertEqual(self.recorded(job_id), 1)

	def test_lock_endpoints_are_for_system_managers_only(self):
		with enforced_permissions():
			for user in ("Guest", PLAIN_USER):
				frappe.set_user(user)
				with self.assertRaises(frappe.PermissionError):
					api.get_unique_lock("anything")
				with self.assertRaises(frappe.PermissionError):
					api.clear_unique_lock("anything")
			frappe.set_user("Administrator")
			self.assertEqual(api.get_unique_lock("anything"), [])

	def test_a_system_manager_sees_and_clears_a_stuck_key(self):
		job_id = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, marker=job_id)
		[entry] = api.get_unique_lock(job_id)
		self.assertEqual(
			(entry["holder"], entry["holder_status"], entry["stale"]), (handle.rq_id, "queued", False)
		)
		with self.assertRaises(frappe.ValidationError):
			api.clear_unique_lock(job_id)  # the holder is alive: needs force

		handle.fetch().delete()  # the job vanished: the key is stuck until healed or cleared
		self.assertTrue(api.get_unique_lock(job_id)[0]["stale"])
		self.assertEqual(api.clear_unique_lock(job_id)["released"], [handle.rq_id])
		self.assertEqual(api.get_unique_lock(job_id), [])

	def test_bad_job_id_is_rejected(self):
		with self.assertRaises(frappe.ValidationError):
			api.get_unique_lock("x" * 500)

	def test_bench_unlock_command(self):
		job_id = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, marker=job_id)

		def unlock(*flags):
			return run_bench("--site", frappe.local.site, "jobkit", "unlock", job_id, *flags)

		refused = unlock()
		self.assertEqual(refused.returncode, 1, refused.stderr)
		self.assertIn("--force", refused.stdout)
		self.assertTrue(jobkit.is_enqueued(job_id))
		forced = unlock("--force")
		self.assertEqual(forced.returncode, 0, forced.stderr)
		self.assertIn(handle.rq_id, forced.stdout)
		self.assertEqual(api.get_unique_lock(job_id), [])
		handle.fetch().delete()
