"""Progress on a site: messages reach only the owner's room, and only the owner reads the state."""

import json
import threading

import frappe
from frappe.utils.background_jobs import get_redis_connection_without_auth

import jobkit
from jobkit import api
from jobkit.tests.utils import TEST_USER, SiteJobsTestCase, ensure_user, run_bench_worker

QUEUE = "short"
OTHER_USER = "jobkit.other@example.com"


class RealtimeEvents:
	"""What Frappe publishes for its socket.io server (the Redis channel "events") while listening."""

	def __init__(self):
		self.messages: list[dict] = []
		self._pubsub = get_redis_connection_without_auth().pubsub(ignore_subscribe_messages=True)
		self._pubsub.subscribe(events=lambda message: self.messages.append(json.loads(message["data"])))
		self._thread = self._pubsub.run_in_thread(sleep_time=0.01, daemon=True)

	def close(self) -> None:
		self._thread.stop()
		self._thread.join(timeout=5)
		self._pubsub.close()

	def progress_of(self, rq_id: str) -> list[dict]:
		return [
			m for m in self.messages if m["event"] == "jobkit_progress" and m["message"].get("id") == rq_id
		]


class TestProgress(SiteJobsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		ensure_user(OTHER_USER, "Jobkit Other")

	def setUp(self):
		super().setUp()
		self.events = RealtimeEvents()

	def tearDown(self):
		self.events.close()
		frappe.set_user("Administrator")
		super().tearDown()

	def enqueue_as(self, user: str, **kwargs) -> jobkit.JobHandle:
		frappe.set_user(user)
		try:
			return jobkit.enqueue("jobkit.tests.jobs.count_with_progress", queue=QUEUE, **kwargs)
		finally:
			frappe.set_user("Administrator")

	def test_messages_go_only_to_the_owners_room_and_only_the_owner_reads_the_state(self):
		handle = self.enqueue_as(TEST_USER, items=200_000)
		run_bench_worker(QUEUE)
		done = threading.Event()
		for _ in range(100):  # the listener thread may still be reading the last messages
			if any(m["message"]["status"] == "done" for m in self.events.progress_of(handle.rq_id)):
				done.set()
				break
			done.wait(0.05)
		messages = self.events.progress_of(handle.rq_id)
		self.assertTrue(done.is_set(), f"no final message among {len(messages)}")
		self.assertEqual({m["room"] for m in messages}, {f"user:{TEST_USER}"})
		self.assertEqual({m["namespace"] for m in messages}, {frappe.local.site})
		self.assertEqual(messages[0]["message"]["done"], 0)
		self.assertEqual(messages[-1]["message"]["done"], 200_000)

		# A reload after the end: the owner (and a System Manager) read the final state; others cannot.
		frappe.set_user(TEST_USER)
		state = api.get_progress(handle.rq_id)
		self.assertEqual((state["status"], state["done"], state["owner"]), ("done", 200_000, TEST_USER))
		self.assertIn(handle.rq_id, [job["id"] for job in api.get_my_jobs()])
		frappe.set_user(OTHER_USER)
		with self.assertRaises(frappe.PermissionError):
			api.get_progress(handle.rq_id)
		with self.assertRaises(frappe.PermissionError):
			api.cancel_job(handle.rq_id)
		self.assertNotIn(handle.rq_id, [job["id"] for job in api.get_my_jobs()])
		frappe.set_user("Administrator")
		self.assertEqual(api.get_progress(handle.rq_id)["status"], "done")
		self.assertFalse(api.cancel_job(handle.rq_id)["cancelled"])  # it has ended

	def test_bad_input_names_the_problem(self):
		with self.assertRaisesRegex(frappe.ValidationError, "give the job run.s RQ id"):
			api.get_progress("")
		self.assertIsNone(api.get_progress("no-such-run"))
		with self.assertRaises(frappe.DoesNotExistError):
			api.cancel_job("no-such-run")
		frappe.set_user("Guest")
		with self.assertRaises(frappe.PermissionError):
			api.get_my_jobs()
