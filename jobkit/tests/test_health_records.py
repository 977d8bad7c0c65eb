"""Job Health Check snapshots: one alert per change of verdict, and only System Managers read them."""

import frappe

from jobkit import api
from jobkit.site.records import health_checks as health_records
from jobkit.tests.utils import TEST_USER, JobkitTestCase, enforced_permissions, ensure_user

ALERT_ROLE = "Jobkit Health Alerts Test"
ALERTED_USER = "jobkit.alerted@example.com"


class TestHealthRecords(JobkitTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		if not frappe.db.exists("Role", ALERT_ROLE):
			frappe.get_doc({"doctype": "Role", "role_name": ALERT_ROLE, "desk_access": 1}).insert()
		ensure_user(ALERTED_USER, "Jobkit Alerted", roles=(ALERT_ROLE,))
		ensure_user(TEST_USER, "Jobkit Tester")

	def setUp(self):
		super().setUp()
		self.settings_before = frappe.get_single("Jobkit Settings").as_dict()
		page_roles = frappe.db.get_value("Custom Role", {"page": "jobkit-jobs"})
		self.page_roles_before = (
			page_roles,
			frappe.get_all("Has Role", {"parenttype": "Custom Role", "parent": page_roles}, pluck="role"),
		)
		frappe.db.set_single_value("Jobkit Settings", {"alert_role": ALERT_ROLE, "cooldown_minutes": 30})
		self.clear()

	def tearDown(self):
		self.clear()
		self.restore_page_roles(*self.page_roles_before)
		frappe.db.set_single_value(
			"Jobkit Settings",
			{
				"alert_role": self.settings_before.alert_role,
				"cooldown_minutes": self.settings_before.cooldown_minutes,
			},
		)
		frappe.db.commit()
		super().tearDown()

	def clear(self):
		for child in health_records.CHILD_DOCTYPES:
			frappe.db.delete(child, {"parenttype": health_records.DOCTYPE})
		frappe.db.delete(health_records.DOCTYPE)
		frappe.db.delete("Notification Log", {"for_user": ALERTED_USER})
		frappe.db.commit()

	def alerts(self) -> list[dict]:
		return frappe.get_all(
			"Notification Log",
			filters={"for_user": ALERTED_USER, "document_type": health_records.DOCTYPE},
			fields=["subject", "document_name"],
		)

	def test_a_change_of_verdict_alerts_the_role_once(self):
		first = health_records.take_snapshot()  # no worker runs in the tests: Critical
		record = frappe.get_doc(health_records.DOCTYPE, first)
		self.assertEqual(record.verdict, "Critical")
		self.assertTrue(any(row.check == "no_worker" for row in record.findings))
		self.assertEqual({row.queue for row in record.queues}, {"short", "default", "long"})
		[alert] = self.alerts()
		self.assertEqual(alert.document_name, first)
		self.assertIn("Critical (was OK)", alert.subject)
		self.assertTrue(record.alert_sent)

		second = health_records.take_snapshot()  # the same verdict: no second alert
		self.assertEqual(frappe.db.get_value(health_records.DOCTYPE, second, "verdict"), "Critical")
		self.assertEqual(len(self.alerts()), 1)
		self.assertFalse(frappe.db.get_value(health_records.DOCTYPE, second, "alert_sent"))

	def test_settings_keep_their_defaults_when_one_field_was_set(self):
		from jobkit.site.install import ensure_settings_defaults

		frappe.db.sql("delete from `tabSingles` where doctype = 'Jobkit Settings' and field != 'alert_role'")
		frappe.clear_document_cache("Jobkit Settings")
		self.assertFalse(frappe.get_single("Jobkit Settings").snapshot_interval)  # the form shows 0
		ensure_settings_defaults()  # what install and migrate run
		settings = frappe.get_single("Jobkit Settings")
		self.assertEqual(
			(settings.snapshot_interval, settings.wait_critical, settings.alert_role), (5, 1800, ALERT_ROLE)
		)
		settings.save()  # valid as loaded

	def test_a_due_snapshot_waits_for_the_interval(self):
		self.assertIsNotNone(health_records.take_due_snapshot())
		self.assertIsNone(health_records.take_due_snapshot())  # the last one is not 5 minutes old
		self.assertEqual(frappe.db.count(health_records.DOCTYPE), 1)

	def test_only_system_managers_read_snapshots_and_run_a_check(self):
		name = api.run_health_check()
		self.assertTrue(frappe.db.exists(health_records.DOCTYPE, name))
		for user in (TEST_USER, ALERTED_USER):
			frappe.set_user(user)
			try:
				with enforced_permissions():
					self.assertFalse(frappe.has_permission(health_records.DOCTYPE, "read", doc=name))
					with self.assertRaises(frappe.PermissionError):
						frappe.get_list(health_records.DOCTYPE)
					with self.assertRaises(frappe.PermissionError):
						api.run_health_check()
			finally:
				frappe.set_user("Administrator")

	def test_metrics_are_for_the_alert_role_only(self):
		response = api.metrics()
		text = response.get_data(as_text=True)
		self.assertTrue(response.content_type.startswith("text/plain; version=0.0.4"))
		self.assertIn(f'jobkit_queue_pending{{site="{frappe.local.site}",queue="short"}}', text)
		self.assertIn("# TYPE jobkit_verdict gauge", text)
		frappe.set_user(TEST_USER)
		try:
			with enforced_permissions(), self.assertRaises(frappe.PermissionError):
				api.metrics()
		finally:
			frappe.set_user("Administrator")
		frappe.set_user(ALERTED_USER)  # the alert role (set up in setUp) may scrape
		try:
			with enforced_permissions():
				self.assertIn("jobkit_verdict", api.metrics().get_data(as_text=True))
		finally:
			frappe.set_user("Administrator")

	def test_the_workspace_verdict_card_is_for_managers_only(self):
		# What it shows is tested in test_workspace; here, who may read it.
		self.assertIn("indicator-pill", api.health_verdict_card())
		frappe.set_user(TEST_USER)
		try:
			with enforced_permissions(), self.assertRaises(frappe.PermissionError):
				api.health_verdict_card()
		finally:
			frappe.set_user("Administrator")

	def test_a_snapshot_says_in_its_title_what_is_wrong(self):
		record = frappe.get_doc(health_records.DOCTYPE, health_records.take_snapshot())
		worst = record.findings[0]
		self.assertEqual(worst.severity, "Critical")
		self.assertTrue(record.summary.startswith(worst.message[:40]), record.summary)
		self.assertIn("Critical", record.summary.rpartition("(")[2])
		self.assertLessEqual(len(record.summary), health_records.SUMMARY_LENGTH + 10)

	def test_the_error_log_rate_threshold_is_a_setting(self):
		from jobkit.site import health as site_health

		before = frappe.db.get_single_value("Jobkit Settings", "error_logs_per_hour_warning")
		self.addCleanup(frappe.db.set_single_value, "Jobkit Settings", "error_logs_per_hour_warning", before)
		frappe.get_doc({"doctype": "Error Log", "method": "jobkit-test-error-rate", "error": "x"}).insert(
			ignore_permissions=True
		)
		for limit, expected in ((1, True), (0, False), (10**9, False)):
			frappe.db.set_single_value("Jobkit Settings", "error_logs_per_hour_warning", limit)
			checks = [finding.check for finding in site_health.check().findings]
			self.assertEqual("error_logs" in checks, expected, limit)
		frappe.db.rollback()

	def restore_page_roles(self, kept: str | None, kept_roles: list[str]) -> None:
		"""The Jobs page's Custom Role as it was before the test (saving Jobkit Settings with the
		test's alert role adds that role to it)."""
		from jobkit.site import install

		name = frappe.db.get_value("Custom Role", {"page": install.JOBS_PAGE})
		if name and not kept:
			frappe.delete_doc("Custom Role", name, ignore_permissions=True)
		elif name:
			doc = frappe.get_doc("Custom Role", name)
			doc.set("roles", [{"role": role} for role in kept_roles])
			doc.save(ignore_permissions=True)
		frappe.db.commit()

	def test_the_alert_role_opens_the_jobs_page_read_only(self):
		from jobkit.site import install

		install.open_jobs_page_to_alert_role()
		page = frappe.get_doc("Page", install.JOBS_PAGE)
		frappe.set_user(ALERTED_USER)
		try:
			self.assertTrue(page.is_permitted())
			with enforced_permissions():
				overview = api.jobs_overview()
				self.assertIn(overview["verdict"], ("OK", "Warning", "Critical"))
				with self.assertRaises(frappe.PermissionError):
					api.stop_job("no-such-job")
		finally:
			frappe.set_user("Administrator")
		frappe.set_user(TEST_USER)  # a desk user with neither role
		try:
			self.assertFalse(page.is_permitted())
		finally:
			frappe.set_user("Administrator")
		# A System Manager still opens it, and running it again adds nothing.
		install.open_jobs_page_to_alert_role()
		roles = frappe.get_all("Has Role", {"parenttype": "Custom Role", "parent": frappe.db.get_value(
			"Custom Role", {"page": install.JOBS_PAGE})}, pluck="role")  # fmt: skip
		self.assertEqual(sorted(roles), sorted({"System Manager", ALERT_ROLE}))
