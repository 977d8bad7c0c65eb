"""Batches on a site: a real bench worker runs the chunks, and the Jobkit Batch record follows."""

import json
from uuid import uuid4

import frappe

import jobkit
from jobkit import api
from jobkit.tests.utils import (
	REFERENCE_ROLE,
	TEST_USER,
	SiteJobsTestCase,
	enforced_permissions,
	ensure_reference_role,
	run_bench_worker,
)

QUEUE = "short"
ROWS = 2000


class TestBatches(SiteJobsTestCase):
	def make_todos(self, count: int, marker: str, failing: tuple[int, ...] = ()) -> list[str]:
		"""``count`` open ToDos, committed (the worker reads them), named in order."""
		now = frappe.utils.now()
		names = [f"{marker}-{n:05d}" for n in range(count)]
		rows = [
			(name, now, now, "Administrator", "Administrator", "Open", "Medium",
				f"{marker}|{n}" + ("|fail" if n in failing else ""))
			for n, name in enumerate(names)
		]  # fmt: skip
		fields = ["name", "creation", "modified", "owner", "modified_by", "status", "priority", "description"]
		frappe.db.bulk_insert("ToDo", fields, rows)
		frappe.db.commit()
		return names

	def run_worker(self) -> None:
		run_bench_worker(QUEUE)
		frappe.db.rollback()  # a new snapshot: see what the worker committed

	def summaries(self, batch_id: str) -> list[dict]:
		return [json.loads(entry) for entry in frappe.cache.lrange(f"jobkit-test-summary:{batch_id}", 0, -1)]

	def open_todos(self, marker: str) -> list[str]:
		return frappe.get_all(
			"ToDo", filters={"description": ("like", f"{marker}|%"), "status": "Open"}, pluck="name"
		)

	def test_a_batch_over_a_doctype_query_updates_every_row_with_exact_counts(self):
		marker = f"jobkit-test-{uuid4().hex[:12]}"
		self.make_todos(ROWS, marker)
		handle = jobkit.batch(
			"jobkit.tests.jobs.close_todos",
			query=jobkit.DocTypeQuery("ToDo", filters={"description": ("like", f"{marker}|%")}),
			chunk_size=100,
			queue=QUEUE,
			title=f"Close the ToDos of {marker}",
			on_complete="jobkit.tests.jobs.note_batch_summary",
			marker=marker,
		)
		frappe.db.commit()  # the record is written in the caller's transaction
		record = frappe.get_doc("Jobkit Batch", handle.id)
		self.assertEqual((record.status, record.total, record.chunks), ("Queued", ROWS, ROWS // 100))

		self.run_worker()

		self.assertEqual(self.open_todos(marker), [])
		record.reload()
		self.assertEqual(record.status, "Completed")
		self.assertEqual(
			(record.total, record.done, record.failed, record.chunks_done, record.progress),
			(ROWS, ROWS, 0, ROWS // 100, 100),
		)
		self.assertEqual(record.user, "Administrator")
		self.assertTrue(record.started_at and record.finished_at and record.duration > 0)
		# Every update of the record while the chunks ran went in (none was logged as lost).
		self.assertFalse(frappe.get_all("Error Log", filters={"method": ("like", f"%{handle.id}%")}))
		[summary] = self.summaries(handle.id)  # on_complete ran once
		self.assertEqual((summary["status"], summary["done"], summary["failed"]), ("Completed", ROWS, 0))

	def test_a_failing_item_is_rolled_back_and_listed_and_can_be_retried(self):
		marker = f"jobkit-test-{uuid4().hex[:12]}"
		names = self.make_todos(30, marker, failing=(7,))
		handle = jobkit.batch(
			"jobkit.tests.jobs.close_todo_unless_marked",
			items=names,
			per_item=True,
			chunk_size=10,
			queue=QUEUE,
			title="Close R&D's ToDos",
			reference_doctype="Role",
			reference_name=ensure_reference_role(),
			marker=marker,
		)
		frappe.db.commit()
		self.run_worker()

		record = frappe.get_doc("Jobkit Batch", handle.id)
		self.assertEqual(record.status, "Completed with errors")
		self.assertEqual((record.done, record.failed), (29, 1))
		# Stored as given: the list view escapes its subject, and a link needs the name itself.
		self.assertEqual(record.title, "Close R&D's ToDos")
		self.assertEqual((record.reference_doctype, record.reference_name), ("Role", REFERENCE_ROLE))
		[failed] = record.failed_items
		self.assertEqual(failed.item, names[7])
		self.assertIn("marked to fail", failed.error)
		self.assertEqual(record.failed_items_not_shown, 0)
		# The failing item's own write was rolled back; the items around it were kept.
		self.assertEqual(self.open_todos(marker), [names[7]])

		frappe.cache.set(f"jobkit-test-fixed:{marker}", 1)  # the cause is fixed: retry those items
		outcome = api.retry_batch_failed_items(record.name)
		frappe.db.commit()
		self.run_worker()
		retry = frappe.get_doc("Jobkit Batch", outcome["batch"])
		self.assertEqual(
			(retry.status, retry.total, retry.done, retry.retry_of), ("Completed", 1, 1, record.name)
		)
		self.assertEqual(frappe.db.get_value("Jobkit Batch", record.name, "retried_as"), retry.name)
		self.assertEqual(self.open_todos(marker), [])
		with self.assertRaisesRegex(frappe.ValidationError, "retried already"):
			api.retry_batch_failed_items(record.name)

	def test_a_running_batch_shows_its_failed_items_before_it_ends(self):
		from jobkit.engine import batches
		from jobkit.engine.batches import running
		from jobkit.site.host import host

		handle = jobkit.batch(
			"jobkit.tests.jobs.close_todos", items=[f"item-{i}" for i in range(20)], chunk_size=10,
			max_parallel=1, queue=QUEUE, marker="jobkit-test-running-failures",
		)  # fmt: skip
		frappe.db.commit()
		try:
			spec = batches.state.load_spec(batches.read_state(host, handle.id))
			failure = {"item": "item-3", "error": "ValueError: bad item-3", "chunk": 0}
			running.end_segment(
				host, handle.id, spec, 0, 0, 10, [failure], complete=True
			)  # as a worker ends chunk 0
			frappe.db.commit()
			record = frappe.get_doc("Jobkit Batch", handle.id)
			self.assertIsNone(record.finished_at)  # chunk 1 is still to run
			self.assertEqual((record.done, record.failed), (9, 1))
			self.assertEqual([row.item for row in record.failed_items], ["item-3"])
		finally:
			handle.cancel()
			queue = host.rq_queue(QUEUE)
			for rq_job in queue.jobs:
				if ((host.envelope_of(rq_job) or {}).get("kwargs") or {}).get("batch_id") == handle.id:
					rq_job.delete()
			frappe.db.delete("Jobkit Batch Failed Item", {"parent": handle.id})
			frappe.db.delete("Jobkit Batch", {"name": handle.id})
			frappe.db.commit()

	def test_a_cancelled_batch_ends_cancelled_without_running_its_chunks(self):
		marker = f"jobkit-test-{uuid4().hex[:12]}"
		names = self.make_todos(50, marker)
		handle = jobkit.batch(
			"jobkit.tests.jobs.close_todos",
			items=names,
			chunk_size=10,
			max_parallel=2,
			queue=QUEUE,
			marker=marker,
		)
		frappe.db.commit()
		outcome = api.cancel_batch(handle.id)
		self.assertTrue(outcome["cancelled"])
		frappe.db.commit()
		self.run_worker()  # the two chunks already queued see the cancel and end

		record = frappe.get_doc("Jobkit Batch", handle.id)
		self.assertEqual((record.status, record.done, record.cancelled_by), ("Cancelled", 0, "Administrator"))
		self.assertEqual(len(self.open_todos(marker)), 50)
		self.assertFalse(api.cancel_batch(handle.id)["cancelled"])

	def test_a_batch_is_seen_and_cancelled_only_by_its_user_and_system_managers(self):
		handle = jobkit.batch(
			"jobkit.tests.jobs.close_todos", items=["x"], queue=QUEUE, marker="jobkit-test-perm"
		)
		frappe.db.commit()
		try:
			frappe.set_user(TEST_USER)
			with enforced_permissions():
				self.assertFalse(frappe.has_permission("Jobkit Batch", "read", doc=handle.id))
				self.assertNotIn(handle.id, frappe.get_list("Jobkit Batch", pluck="name"))
				with self.assertRaises(frappe.PermissionError):
					api.cancel_batch(handle.id)
		finally:
			frappe.set_user("Administrator")
		self.assertTrue(api.cancel_batch(handle.id)["cancelled"])
		frappe.db.commit()
		self.run_worker()

	def test_bad_input_names_the_problem(self):
		with self.assertRaisesRegex(jobkit.InvalidArgument, "not a DocType of this site"):
			jobkit.DocTypeQuery("No Such DocType")
		with self.assertRaisesRegex(jobkit.InvalidArgument, "'description' of ToDo is not unique"):
			jobkit.DocTypeQuery("ToDo", key="description")
		for name in ("", "x" * 141):
			with self.assertRaisesRegex(frappe.ValidationError, "name must be the name of a Jobkit Batch"):
				api.cancel_batch(name)
		with self.assertRaises(frappe.DoesNotExistError):
			api.cancel_batch("no-such-batch")
