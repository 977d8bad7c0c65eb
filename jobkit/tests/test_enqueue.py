"""jobkit.enqueue on a real site, run by a real `bench worker`."""

from uuid import uuid4

import frappe
from frappe.utils import background_jobs

import jobkit
from jobkit.site.host import FrappeHost
from jobkit.tests.utils import TEST_USER, SiteJobsTestCase, run_bench_worker

QUEUE = "short"


class TestEnqueue(SiteJobsTestCase):
	def recorded(self, marker: str) -> list[dict]:
		frappe.db.commit()  # see what the worker committed since this transaction began
		return frappe.get_all(
			"ToDo", filters={"description": ("like", f"{marker}|%")}, fields=["owner", "description"]
		)

	def test_the_frappe_host_is_used_without_any_call(self):
		self.assertIsInstance(jobkit.get_host(), FrappeHost)
		self.assertEqual(jobkit.get_host().namespace, frappe.local.site)

	def test_a_bench_worker_runs_the_job_as_the_enqueuing_user(self):
		marker = f"jobkit-test-{uuid4().hex}"
		frappe.set_user(TEST_USER)
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=marker)
		frappe.set_user("Administrator")
		self.assertEqual(handle.status, "queued")

		run_bench_worker(QUEUE)

		[row] = self.recorded(marker)
		self.assertEqual(row.owner, TEST_USER)
		self.assertIn(f"|site={frappe.local.site}|", row.description)
		self.assertIn(f"|job={handle.id}|rq={handle.rq_id}", row.description)
		self.assertEqual(handle.status, "finished")
		self.assertEqual(handle.fetch().return_value(), marker)

	def test_job_id_is_site_namespaced_and_frappe_sees_it(self):
		job_id = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, marker=job_id)
		# Frappe's id for the job, plus a token of its own (a unique job gets a fresh id per enqueue).
		self.assertTrue(handle.rq_id.startswith(background_jobs.create_job_id(job_id) + "#"))
		self.assertTrue(background_jobs.is_job_enqueued(job_id))
		# Frappe's own job format, so Frappe's RQ Job list and monitors read it.
		job = background_jobs.get_job(job_id)
		self.assertEqual(job.func_name, "frappe.utils.background_jobs.execute_job")
		self.assertEqual(job.kwargs["site"], frappe.local.site)
		self.assertEqual(job.kwargs["job_name"], "jobkit.tests.jobs.record")

		run_bench_worker(QUEUE)
		self.assertFalse(background_jobs.is_job_enqueued(job_id))
		self.assertEqual(len(self.recorded(job_id)), 1)

	def test_job_name_labels_the_job_as_in_frappe(self):
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, job_name="Nightly sync", marker=marker
		)
		self.assertEqual(handle.fetch().kwargs["job_name"], "Nightly sync")
		handle.fetch().delete()

	def test_during_a_migrate_an_enqueue_runs_in_place_as_frappe_enqueue_does(self):
		marker = f"jobkit-test-{uuid4().hex}"
		frappe.flags.in_migrate = True
		try:
			handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=marker)
			# A delayed job is due after the migration: it waits for a worker as at any other time.
			later = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, delay=3600, marker=marker)
		finally:
			frappe.flags.in_migrate = False
		self.assertEqual((handle.status, handle.result), ("finished", marker))
		self.assertEqual(len(self.recorded(marker)), 1)
		self.assertEqual(later.status, "scheduled")
		later.fetch().delete()

	def test_a_job_id_without_uniqueness_is_exactly_frappes(self):
		job_id = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, job_id=job_id, unique=False, marker=job_id
		)
		self.assertEqual(handle.rq_id, background_jobs.create_job_id(job_id))
		self.assertTrue(background_jobs.is_job_enqueued(job_id))
		run_bench_worker(QUEUE)
		self.assertEqual(len(self.recorded(job_id)), 1)

	def test_enqueue_after_commit_waits_for_the_transaction(self):
		committed, rolled_back = f"jobkit-test-{uuid4().hex}", f"jobkit-test-{uuid4().hex}"

		kept = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, enqueue_after_commit=True, marker=committed
		)
		self.assertEqual(kept.status, "waiting for commit")
		frappe.db.commit()
		self.assertEqual(kept.status, "queued")

		dropped = jobkit.enqueue(
			"jobkit.tests.jobs.record", queue=QUEUE, enqueue_after_commit=True, marker=rolled_back
		)
		frappe.db.rollback()
		self.assertIsNone(background_jobs.get_job(dropped.id))

		run_bench_worker(QUEUE)
		self.assertEqual(len(self.recorded(committed)), 1)
		self.assertEqual(self.recorded(rolled_back), [])

	def test_queue_timeouts_follow_frappe(self):
		timeouts = background_jobs.get_queues_timeout()
		for queue in ("short", "default", "long"):
			handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=queue, marker="jobkit-test-timeout")
			self.assertEqual(handle.fetch().timeout, timeouts[queue])
			handle.fetch().delete()

	def test_a_failing_job_is_logged_under_its_own_method_and_calls_back_in_the_site(self):
		marker = f"jobkit-test-{uuid4().hex}"
		handle = jobkit.enqueue(
			"jobkit.tests.jobs.fail",
			queue=QUEUE,
			on_failure="jobkit.tests.jobs.record_failure",
			marker=marker,
		)
		run_bench_worker(QUEUE)

		self.assertEqual(handle.status, "failed")
		frappe.db.commit()
		self.assertTrue(
			frappe.db.exists(
				"Error Log", {"method": "jobkit.tests.jobs.fail", "error": ("like", f"%{marker}%")}
			)
		)
		callbacks = frappe.get_all("ToDo", filters={"description": ("like", f"failure-callback|%{marker}")})
		self.assertEqual(len(callbacks), 1)

	def test_bad_input_enqueues_nothing(self):
		queue = background_jobs.get_queue(QUEUE)
		before = queue.count
		with self.assertRaises(jobkit.UnknownQueue):
			jobkit.enqueue("jobkit.tests.jobs.record", queue="no-such-queue", marker="x")
		with self.assertRaises(jobkit.InvalidTimeout):
			jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, timeout=0, marker="x")
		with self.assertRaises(jobkit.InvalidMethod):
			jobkit.enqueue("jobkit.tests.jobs.no_such_job", queue=QUEUE, marker="x")
		with self.assertRaises(jobkit.PayloadTooLarge):
			jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker="x" * (2 * 1024 * 1024))
		self.assertEqual(queue.count, before)

	def test_a_full_queue_refuses_jobkit_calls_exactly_where_frappe_enqueue_refuses(self):
		# Frappe v16 refuses an enqueue once a queue holds max_queued_jobs (plus 50 a site of the
		# bench); v15 sets no bound. jobkit follows the bench's Frappe, with its error, writing nothing.
		queue = background_jobs.get_queue("long")
		limit = 3
		filler = [f"jobkit-test-filler-{n}" for n in range(limit + 50 * len(frappe.utils.get_sites()) + 1)]
		already = set(queue.get_job_ids())
		previous = frappe.local.conf.get("max_queued_jobs")
		frappe.local.conf.max_queued_jobs = limit
		queue.connection.rpush(queue.key, *filler)
		calls = {
			"frappe.enqueue": lambda: frappe.enqueue("jobkit.tests.jobs.record", queue="long", marker="x"),
			"jobkit.enqueue": lambda: jobkit.enqueue("jobkit.tests.jobs.record", queue="long", marker="x"),
			"jobkit.batch": lambda: jobkit.batch(
				"jobkit.tests.jobs.close_todos", items=["a"], queue="long", marker="x"
			),
		}
		outcomes, accepted = {}, []
		try:
			for name, call in calls.items():
				before = queue.connection.llen(queue.key)
				try:
					accepted.append(call())
					outcomes[name] = "accepted"
				except frappe.ValidationError as e:
					outcomes[name] = type(e).__name__
					self.assertIn("Too many queued background jobs", str(e))
					self.assertEqual(
						queue.connection.llen(queue.key), before, f"{name} wrote part of its call"
					)
				frappe.clear_last_message()
		finally:
			frappe.local.conf.max_queued_jobs = previous
			for job_id in filler:
				queue.connection.lrem(queue.key, 0, job_id)
			for handle in accepted:  # nothing is to run what was accepted here
				if isinstance(handle, jobkit.BatchHandle):
					handle.cancel()
			for job_id in set(queue.get_job_ids()) - already:
				if (job := queue.fetch_job(job_id)) is not None:
					job.delete()
		expected = "QueueOverloaded" if hasattr(frappe, "QueueOverloaded") else "accepted"
		self.assertEqual(outcomes, dict.fromkeys(calls, expected))
