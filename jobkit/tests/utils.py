"""Helpers for the Frappe-level tests: the test base class and a real bench worker."""

import os
import subprocess
import sys
from contextlib import contextmanager

import frappe

try:  # Frappe v16
	from frappe.tests import IntegrationTestCase as JobkitTestCase
except ImportError:  # Frappe v15
	from frappe.tests.utils import FrappeTestCase as JobkitTestCase

WORKER_TIMEOUT_SECONDS = 300

TEST_USER = "jobkit.tester@example.com"
BENCH_HELPER = [sys.executable, "-m", "frappe.utils.bench_helper", "frappe"]

__all__ = [
	"TEST_USER",
	"JobkitTestCase",
	"SiteJobsTestCase",
	"delete_test_records",
	"enforced_permissions",
	"ensure_user",
	"run_bench",
	"run_bench_worker",
	"set_system_setting",
]


def ensure_user(email: str, first_name: str, roles: tuple[str, ...] = ()) -> None:
	"""A user for the tests with these roles (none: a website user), created once and committed."""
	if not frappe.db.exists("User", email):
		frappe.get_doc(
			{"doctype": "User", "email": email, "first_name": first_name, "send_welcome_email": 0}
		).insert(ignore_permissions=True)
	user = frappe.get_doc("User", email)
	if roles:
		user.add_roles(*roles)
	# Frappe makes the first user of a new site a System Manager: a test user has only its roles.
	if "System Manager" not in roles and "System Manager" in frappe.get_roles(email):
		user.remove_roles("System Manager")
	frappe.db.commit()


# A document whose name needs escaping in HTML, for the records that link to one.
REFERENCE_ROLE = "Jobkit Test R&D 'Ops'"


def ensure_reference_role() -> str:
	if not frappe.db.exists("Role", REFERENCE_ROLE):
		frappe.get_doc({"doctype": "Role", "role_name": REFERENCE_ROLE}).insert(ignore_permissions=True)
		frappe.db.commit()
	return REFERENCE_ROLE


def delete_test_records() -> None:
	"""Undo what the tests' jobs committed (ToDos whose description starts with a test marker)."""
	frappe.set_user("Administrator")
	frappe.db.rollback()
	frappe.db.delete("ToDo", {"description": ("like", "jobkit-test-%")})
	frappe.db.delete("ToDo", {"description": ("like", "failure-callback|%")})
	test_jobs = ("like", "jobkit.tests.%")
	failed = frappe.get_all("Jobkit Failed Job", filters={"method": test_jobs}, pluck="name")
	frappe.db.delete("Jobkit Failed Job Attempt", {"parent": ("in", failed or [""])})
	frappe.db.delete("Jobkit Failed Job", {"method": test_jobs})
	batches = frappe.get_all("Jobkit Batch", filters={"method": test_jobs}, pluck="name")
	frappe.db.delete("Jobkit Batch Failed Item", {"parent": ("in", batches or [""])})
	frappe.db.delete("Jobkit Batch", {"method": test_jobs})
	frappe.db.delete("Jobkit Skipped Run", {"method": test_jobs})
	frappe.db.commit()


@contextmanager
def enforced_permissions():
	"""Permission checks as in production: frappe.only_for lets everything through in tests."""
	in_test = frappe.flags.in_test
	frappe.flags.in_test = False
	try:
		yield
	finally:
		frappe.flags.in_test = in_test


def set_system_setting(field: str, value) -> None:
	"""Set a System Settings field for this process's next reads too. Frappe v16's scheduler checks
	read the settings through ``frappe.client_cache``, a copy kept in the process that learns of a
	change from Redis a moment later (v15's read the database): the copy is dropped here at once."""
	frappe.db.set_single_value("System Settings", field, value)
	client_cache = getattr(frappe, "client_cache", None)
	if client_cache is not None:
		from frappe.model.document import get_document_cache_key

		client_cache.delete_value(get_document_cache_key("System Settings", "System Settings"))


def run_bench(*args: str) -> subprocess.CompletedProcess:
	"""Run `bench <args>` for this bench, from its sites folder, as `bench` itself does."""
	return subprocess.run(
		[*BENCH_HELPER, *args],
		cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
		capture_output=True,
		text=True,
		timeout=WORKER_TIMEOUT_SECONDS,
	)


def run_bench_worker(queue: str) -> str:
	"""Run `bench worker --queue <queue> --burst` for this bench; return its output."""
	result = run_bench("worker", "--queue", queue, "--burst")
	output = result.stdout + result.stderr
	if result.returncode != 0:
		raise AssertionError(f"bench worker exited {result.returncode}:\n{output}")
	return output


class SiteJobsTestCase(JobkitTestCase):
	"""Tests whose jobs write ToDos on the site: a test user exists, and the ToDos go afterwards."""

	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		ensure_user(TEST_USER, "Jobkit Tester")

	def tearDown(self):
		delete_test_records()
