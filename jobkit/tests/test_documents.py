"""jobkit.enqueue_doc and jobkit.queue_action on a real site, run by real bench workers."""

from uuid import uuid4

import frappe

import jobkit
from jobkit.site import documents
from jobkit.tests.utils import TEST_USER, SiteJobsTestCase, run_bench_worker

QUEUE = "short"
XSS = "<img src=x onerror=alert(1)>"


class TestDocuments(SiteJobsTestCase):
	def setUp(self):
		self.marker = f"jobkit-test-{uuid4().hex}"
		self.todo = frappe.get_doc({"doctype": "ToDo", "description": self.marker}).insert(
			ignore_permissions=True
		)
		frappe.db.commit()

	def tearDown(self):
		frappe.set_user("Administrator")
		self.todo.unlock()
		frappe.db.delete("Comment", {"reference_doctype": "ToDo", "reference_name": self.todo.name})
		failed = frappe.get_all(
			"Jobkit Failed Job",
			filters={"reference_name": self.todo.name, "method": ("in", documents.JOB_METHODS)},
			pluck="name",
		)
		frappe.db.delete("Jobkit Failed Job Attempt", {"parent": ("in", failed or [""])})
		frappe.db.delete("Jobkit Failed Job", {"name": ("in", failed or [""])})
		super().tearDown()

	def description(self) -> str:
		frappe.db.rollback()
		return frappe.db.get_value("ToDo", self.todo.name, "description")

	def queued(self) -> int:
		return jobkit.get_host().rq_queue(QUEUE).count

	def test_enqueue_doc_runs_the_method_as_its_user_once_per_document_and_method(self):
		frappe.set_user(TEST_USER)

		def describe(value: str):
			return jobkit.enqueue_doc(
				"ToDo", self.todo.name, "db_set", queue=QUEUE, fieldname="description", value=value
			)

		first, again = describe(f"{self.marker}|first"), describe(f"{self.marker}|again")
		frappe.set_user("Administrator")
		self.assertEqual(first.id, f"ToDo::{self.todo.name}::db_set")
		self.assertEqual(again.rq_id, first.rq_id)  # the one already queued

		run_bench_worker(QUEUE)

		self.assertEqual(first.status, "finished")
		self.assertEqual(self.description(), f"{self.marker}|first")
		self.assertEqual(frappe.db.get_value("ToDo", self.todo.name, "modified_by"), TEST_USER)

	def test_bad_input_is_refused_with_what_to_pass_and_nothing_is_enqueued(self):
		before = self.queued()
		cases = [
			(("No Such DocType", self.todo.name, "db_set"), {}, jobkit.InvalidArgument, "no DocType"),
			(("ToDo", "no-such-todo", "db_set"), {}, jobkit.InvalidArgument, "no ToDo named 'no-such-todo'"),
			(
				("ToDo", self.todo.name, "no_such_method"),
				{},
				jobkit.InvalidMethod,
				"has no method 'no_such_method'",
			),
			(("ToDo", self.todo.name, "__class__"), {}, jobkit.InvalidMethod, "has no method"),
			(("ToDo", self.todo.name, None), {}, jobkit.InvalidMethod, "pass the name of a method"),
			(("ToDo", self.todo.name, "db_set"), {"action": "x"}, jobkit.InvalidArgument, "rename"),
			(("ToDo", self.todo.name, "db_set"), {"queue": "nope"}, jobkit.UnknownQueue, "nope"),
		]
		for args, kwargs, error, message in cases:
			with self.subTest(args=args, kwargs=kwargs):
				with self.assertRaisesRegex(error, message):
					jobkit.enqueue_doc(*args, **kwargs)
		with self.assertRaisesRegex(jobkit.InvalidArgument, "needs a document"):
			jobkit.queue_action("ToDo", "db_set")
		with self.assertRaisesRegex(jobkit.InvalidMethod, "has no method 'no_such_action'"):
			jobkit.queue_action(self.todo, "no_such_action")
		self.assertFalse(self.todo.is_locked)
		self.assertEqual(self.queued(), before)

	def test_queue_action_locks_the_document_until_its_run_and_refuses_a_second_action(self):
		handle = jobkit.queue_action(
			self.todo, "db_set", queue=QUEUE, enqueue_after_commit=False, fieldname="description",
			value=f"{self.marker}|acted",
		)  # fmt: skip
		self.assertTrue(self.todo.is_locked)
		with self.assertRaises(frappe.DocumentLockedError):  # a save from the desk, as under Frappe
			frappe.get_doc("ToDo", self.todo.name).save()
		with self.assertRaises(frappe.DocumentLockedError):
			jobkit.queue_action(self.todo, "db_set", queue=QUEUE, fieldname="description", value="second")
		# Once the file lock is gone (the run removes it as it starts), the job's key still refuses
		# a second action, and the refused call leaves no lock behind.
		self.todo.unlock()
		with self.assertRaises(frappe.DocumentLockedError):
			jobkit.queue_action(self.todo, "db_set", queue=QUEUE, fieldname="description", value="second")
		self.assertFalse(self.todo.is_locked)
		self.todo.lock()

		run_bench_worker(QUEUE)

		self.assertEqual(handle.status, "finished")
		self.assertEqual(self.description(), f"{self.marker}|acted")
		self.assertFalse(self.todo.is_locked)

	def test_a_final_failure_comments_on_the_document_with_a_link_to_its_failed_job_record(self):
		# A field that does not exist: the error names it, and the name is markup.
		handle = jobkit.enqueue_doc("ToDo", self.todo.name, "db_set", queue=QUEUE, fieldname=XSS, value=1)

		run_bench_worker(QUEUE)

		self.assertEqual(handle.status, "failed")
		frappe.db.rollback()
		[record] = frappe.get_all(
			"Jobkit Failed Job",
			filters={"reference_doctype": "ToDo", "reference_name": self.todo.name},
			fields=["name", "method", "attempts"],
		)
		self.assertEqual(record.method, documents.RUN_DOC_METHOD)
		[comment] = frappe.get_all(
			"Comment",
			filters={
				"reference_doctype": "ToDo",
				"reference_name": self.todo.name,
				"comment_type": "Comment",
			},
			pluck="content",
		)
		self.assertIn(f'href="/app/jobkit-failed-job/{record.name}"', comment)
		self.assertIn("db_set", comment)
		self.assertIn(frappe.utils.escape_html(XSS), comment)  # text from the job is shown as text
		self.assertNotIn(XSS, comment)
