"""Helpers for the Frappe-level tests: the test base class and a real bench worker."""

import os
import subprocess
import sys

import frappe

try:  # Frappe v16
	from frappe.tests import IntegrationTestCase as JobkitTestCase
except ImportError:  # Frappe v15
	from frappe.tests.utils import FrappeTestCase as JobkitTestCase

WORKER_TIMEOUT_SECONDS = 300

__all__ = ["JobkitTestCase", "run_bench_worker"]


def run_bench_worker(queue: str) -> str:
	"""Run `bench worker --queue <queue> --burst` for this bench; return its output."""
	result = subprocess.run(
		[sys.executable, "-m", "frappe.utils.bench_helper", "frappe", "worker", "--queue", queue, "--burst"],
		cwd=os.path.join(frappe.utils.get_bench_path(), "sites"),
		capture_output=True,
		text=True,
		timeout=WORKER_TIMEOUT_SECONDS,
	)
	output = result.stdout + result.stderr
	if result.returncode != 0:
		raise AssertionError(f"bench worker exited {result.returncode}:\n{output}")
	return output
