"""Jobkit Failed Job records on a real site: written by real bench workers, retried and discarded."""

import time
from uuid import uuid4

import frappe

import jobkit
from jobkit import Retry, api
from jobkit.site.records import failed_jobs
from jobkit.tests.utils import (
	REFERENCE_ROLE,
	TEST_USER,
	SiteJobsTestCase,
	enforced_permissions,
	ensure_reference_role,
	ensure_user,
	run_bench,
	run_bench_worker,
)

QUEUE = "short"
MANAGER = "jobkit.manager@example.com"
SECRET = "sk-live-7f3a9c"


class TestFailedJobs(SiteJobsTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		ensure_user(MANAGER, "Jobkit Manager", roles=("System Manager",))

	def run_until_final(self, handle, timeout: float = 120) -> None:
		"""Run workers (and promote retries) until the job has ended."""
		deadline = time.monotonic() + timeout
		while handle.status not in ("finished", "failed") and time.monotonic() < deadline:
			run_bench_worker(QUEUE)
			time.sleep(0.3)
			jobkit.promote_due()
		frappe.db.commit()

	def failed_job_of(self, marker: str, **enqueue):
		frappe.set_user(TEST_USER)
		handle = jobkit.enqueue(queue=QUEUE, marker=marker, **enqueue)
		frappe.set_user("Administrator")
		self.run_until_final(handle)
		self.assertEqual(handle.status, "failed")
		[name] = frappe.get_all(
			"Jobkit Failed Job", filters={"kwargs": ("like", f"%{marker}%")}, pluck="name"
		)
		return frappe.get_doc("Jobkit Failed Job", name)

	def test_a_job_that_always_fails_leaves_one_record_with_its_secrets_redacted(self):
		marker = f"jobkit-test-{uuid4().hex}"
		record = self.failed_job_of(
			marker,
			method="jobkit.tests.jobs.always_deadlock",
			retry=Retry(max_attempts=2, backoff=0.2, jitter=False),
			api_key=SECRET,
			connection={"password": "hunter2", "host": "db1.internal"},
			reference_doctype="Role",
			reference_name=ensure_reference_role(),  # a name that needs escaping, kept as it is
		)
		self.assertEqual(
			(record.status, record.method, record.queue, record.user, record.attempts),
			("Failed", "jobkit.tests.jobs.always_deadlock", QUEUE, TEST_USER, 2),
		)
		self.assertEqual([row.attempt for row in record.attempt_errors], [1, 2])
		self.assertTrue(all("Deadlock found" in row.error for row in record.attempt_errors))
		self.assertLessEqual(record.first_failed_at, record.last_failed_at)
		self.assertIn("Deadlock found", record.traceback)
		self.assertEqual((record.reference_doctype, record.reference_name), ("Role", REFERENCE_ROLE))
		self.assertIn("db1.internal", record.kwargs)
		for secret in (SECRET, "hunter2"):
			self.assertNotIn(secret, record.kwargs)
			self.assertNotIn(secret, record.as_json())  # nor in the stored job, which is encrypted
		# One Error Log for the final failure; the retried attempt was not an error.
		self.assertEqual(
			frappe.db.count(
				"Error Log", {"method": "jobkit.tests.jobs.always_deadlock", "error": ("like", f"%{marker}%")}
			),
			1,
		)

	def test_retry_as_a_system_manager_runs_the_stored_job_as_its_user(self):
		marker = f"jobkit-test-{uuid4().hex}"
		record = self.failed_job_of(marker, method="jobkit.tests.jobs.fail_until_fixed", api_key=SECRET)
		frappe.cache.set(f"jobkit-test-fixed:{marker}", 1)  # the fix is deployed

		frappe.set_user(MANAGER)
		with enforced_permissions():
			outcome = api.retry_failed_jobs(names=[record.name])
		frappe.set_user("Administrator")
		self.assertEqual(outcome["errors"], {})
		record.reload()
		self.assertEqual(
			(record.status, record.retried_as, record.resolved_by),
			("Retried", outcome["retried"][record.name], MANAGER),
		)

		run_bench_worker(QUEUE)
		frappe.db.commit()
		todos = frappe.get_all(
			"ToDo", filters={"description": ("like", f"{marker}|%")}, fields=["owner", "description"]
		)
		self.assertEqual(len(todos), 1)
		self.assertEqual(todos[0].owner, TEST_USER)  # the job's user, not the manager who retried
		self.assertIn(f"api_key={SECRET}", todos[0].description)  # the real value, not the redacted one

		again = api.retry_failed_jobs(names=[record.name])
		self.assertIn("Retried already", again["errors"][record.name])

	def test_a_retry_that_fails_again_leaves_a_record_pointing_back(self):
		marker = f"jobkit-test-{uuid4().hex}"
		first = self.failed_job_of(marker, method="jobkit.tests.jobs.fail")
		self.assertIsNone(first.retry_of)
		outcome = api.retry_failed_jobs(names=[first.name])  # it fails again
		frappe.db.commit()
		run_bench_worker(QUEUE)
		frappe.db.commit()
		again = frappe.get_all(
			"Jobkit Failed Job",
			filters={"kwargs": ("like", f"%{marker}%"), "name": ("!=", first.name)},
			fields=["name", "retry_of", "rq_job_id"],
		)
		self.assertEqual(
			[(row.retry_of, row.rq_job_id) for row in again], [(first.name, outcome["retried"][first.name])]
		)

	def test_a_users_failed_job_shows_in_their_tray_and_no_one_elses(self):
		marker = f"jobkit-test-{uuid4().hex}"
		record = self.failed_job_of(marker, method="jobkit.tests.jobs.fail")
		frappe.set_user(TEST_USER)
		try:
			mine = {state["id"]: state for state in api.get_my_jobs()}
		finally:
			frappe.set_user(MANAGER)
		try:
			theirs = {state["id"] for state in api.get_my_jobs()}
		finally:
			frappe.set_user("Administrator")
		shown = mine[f"failed:{record.name}"]
		self.assertEqual((shown["status"], shown["failed_record"], shown["method"]), (
			"failed", record.name, "jobkit.tests.jobs.fail"
		))  # fmt: skip
		self.assertIn(marker, shown["reason"])
		self.assertNotIn(f"failed:{record.name}", theirs)
		api.discard_failed_jobs(names=[record.name])  # looked at: the tray lets it go
		frappe.set_user(TEST_USER)
		try:
			self.assertNotIn(f"failed:{record.name}", {state["id"] for state in api.get_my_jobs()})
		finally:
			frappe.set_user("Administrator")

	def test_retry_and_discard_without_the_role_are_refused(self):
		record = self.failed_job_of(
			f"jobkit-test-{uuid4().hex}", method="jobkit.tests.jobs.fail_until_fixed", api_key=SECRET
		)
		with enforced_permissions():
			for user in ("Guest", TEST_USER):
				frappe.set_user(user)
				with self.assertRaises(frappe.PermissionError):
					api.retry_failed_jobs(names=[record.name])
				with self.assertRaises(frappe.PermissionError):
					api.discard_failed_jobs(names=[record.name])
		frappe.set_user("Administrator")
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Failed")
		# The job's own user may read its record, not change it; another user may not even read it.
		read, write = (
			frappe.has_permission("Jobkit Failed Job", ptype, doc=record.name, user=TEST_USER)
			for ptype in ("read", "write")
		)
		self.assertEqual((read, write), (True, False))
		ensure_user("jobkit.stranger@example.com", "Stranger", ("Desk User",))
		self.assertFalse(
			frappe.has_permission(
				"Jobkit Failed Job", "read", doc=record.name, user="jobkit.stranger@example.com"
			)
		)

	def test_a_discarded_record_is_not_retried(self):
		record = self.failed_job_of(
			f"jobkit-test-{uuid4().hex}", method="jobkit.tests.jobs.fail_until_fixed", api_key=SECRET
		)
		outcome = api.discard_failed_jobs(names=[record.name, "no-such-record"])
		self.assertEqual(outcome["discarded"], [record.name])
		self.assertIn("does not exist", outcome["errors"]["no-such-record"])
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Discarded")
		self.assertIn("Discarded already", api.retry_failed_jobs(names=[record.name])["errors"][record.name])

	def test_a_unique_job_is_not_retried_over_its_live_copy_and_its_record_stays(self):
		marker = f"jobkit-test-{uuid4().hex}"
		record = self.failed_job_of(
			marker, method="jobkit.tests.jobs.fail_until_fixed", job_id=marker, api_key=SECRET
		)
		copy = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, job_id=marker, marker=marker)
		self.assertFalse(copy.duplicate)  # queued: it holds the job id now
		outcome = api.retry_failed_jobs(names=[record.name])
		self.assertEqual(outcome["retried"], {})
		self.assertIn("another run of job", outcome["errors"][record.name])
		self.assertIn(copy.rq_id, outcome["errors"][record.name])
		frappe.db.commit()
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Failed")
		run_bench_worker(QUEUE)  # the copy runs; then the record can be retried
		self.assertEqual(copy.status, "finished")
		frappe.cache.set(f"jobkit-test-fixed:{marker}", 1)
		self.assertEqual(list(api.retry_failed_jobs(names=[record.name])["retried"]), [record.name])
		run_bench_worker(QUEUE)
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Retried")

	def test_a_tampered_stored_job_is_refused_not_run(self):
		record = self.failed_job_of(
			f"jobkit-test-{uuid4().hex}", method="jobkit.tests.jobs.fail_until_fixed", api_key=SECRET
		)
		forged = failed_jobs.seal({**failed_jobs.unseal(record.job), "method": "os.system"})
		frappe.db.set_value("Jobkit Failed Job", record.name, "job", forged[:-8] + "AAAAAAAA")
		frappe.db.commit()
		outcome = api.retry_failed_jobs(names=[record.name])
		self.assertEqual(outcome["retried"], {})
		self.assertIn("Encryption key is invalid", outcome["errors"][record.name])
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Failed")

	def test_text_from_the_job_is_stored_as_text_not_html(self):
		tag = "<img src=x onerror=alert(1)>"
		record = self.failed_job_of(f"jobkit-test-{uuid4().hex}{tag}", method="jobkit.tests.jobs.fail")
		for shown in (record.error, record.attempt_errors[0].error):
			self.assertIn("&lt;img src=x onerror=alert(1)&gt;", shown)
			self.assertNotIn("<img", shown)

	def test_bad_names_are_refused_with_a_clear_error(self):
		# A dict too: jobkit checks its arguments itself, after permission, with one message on v15
		# and v16 (Frappe would check annotated types first, each version with its own).
		for names in ([], [""], ["x" * 141], [1], '{"a": 1}', ["n"] * 501, {"a": 1}):
			with self.assertRaisesRegex(
				frappe.ValidationError, "names must be a list of 1 to 500", msg=repr(names)
			):
				api.retry_failed_jobs(names=names)

	def test_bench_retry_command(self):
		marker = f"jobkit-test-{uuid4().hex}"
		record = self.failed_job_of(marker, method="jobkit.tests.jobs.fail_until_fixed", api_key=SECRET)
		frappe.cache.set(f"jobkit-test-fixed:{marker}", 1)
		site = frappe.local.site

		result = run_bench("--site", site, "jobkit", "retry", record.name, "no-such-record")
		self.assertEqual(result.returncode, 1, result.stderr)  # one refused
		self.assertIn(f"{record.name}: retried as", result.stdout)
		self.assertIn("no-such-record: not retried", result.stdout)
		frappe.db.rollback()  # see what the command committed
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Retried")
		run_bench_worker(QUEUE)

	def test_bench_discard_command(self):
		record = self.failed_job_of(
			f"jobkit-test-{uuid4().hex}", method="jobkit.tests.jobs.fail_until_fixed", api_key=SECRET
		)
		site = frappe.local.site
		usage = run_bench("--site", site, "jobkit", "discard")
		self.assertNotEqual(usage.returncode, 0)
		self.assertIn("--all-failed", usage.stdout + usage.stderr)  # names or --all-failed, said plainly

		result = run_bench("--site", site, "jobkit", "discard", record.name)
		self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
		self.assertIn("1 discarded, 0 refused", result.stdout)
		frappe.db.rollback()
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", record.name, "status"), "Discarded")
		again = run_bench("--site", site, "jobkit", "discard", record.name)
		self.assertEqual(again.returncode, 1)
		self.assertIn("Discarded already", again.stdout)

	def test_records_older_than_the_log_settings_retention_are_pruned(self):
		old, recent = (
			self.failed_job_of(
				f"jobkit-test-{uuid4().hex}", method="jobkit.tests.jobs.fail_until_fixed", api_key="k"
			)
			for _ in range(2)
		)
		frappe.db.set_value(
			"Jobkit Failed Job", old.name, "modified", frappe.utils.add_days(None, -31), update_modified=False
		)
		settings = frappe.get_doc("Log Settings")
		settings.add_default_logtypes()
		[entry] = [row for row in settings.logs_to_clear if row.ref_doctype == "Jobkit Failed Job"]
		self.assertEqual(entry.days, 30)

		frappe.get_doc({"doctype": "Jobkit Failed Job"}).clear_old_logs(days=entry.days)
		self.assertFalse(frappe.db.exists("Jobkit Failed Job", old.name))
		self.assertFalse(frappe.db.exists("Jobkit Failed Job Attempt", {"parent": old.name}))
		self.assertTrue(frappe.db.exists("Jobkit Failed Job", recent.name))
		self.assertEqual(failed_jobs.prune(30), 0)
