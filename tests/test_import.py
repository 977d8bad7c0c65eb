import importlib.util
import subprocess
import sys

import pytest

import jobkit
from tests.workers import REPO, worker_env


def test_import_needs_no_frappe():
	# The test only means something in an environment without Frappe, which both test venvs are.
	assert importlib.util.find_spec("frappe") is None
	code = (
		"import sys, jobkit; "
		"assert 'frappe' not in sys.modules, 'import jobkit imported frappe'; "
		"print(jobkit.__version__)"
	)
	result = subprocess.run(
		[sys.executable, "-c", code], cwd=REPO, env=worker_env(), capture_output=True, text=True
	)
	assert result.returncode == 0, result.stderr
	assert result.stdout.strip() == jobkit.__version__


def test_public_api_is_exported():
	for name in jobkit.__all__:
		assert hasattr(jobkit, name), name
	assert issubclass(jobkit.UnknownQueue, jobkit.JobkitError)
	assert issubclass(jobkit.PayloadTooLarge, jobkit.JobkitError)


def test_doctype_query_outside_frappe_names_what_to_use_instead():
	with pytest.raises(jobkit.NotConfigured, match=r"needs a Frappe site.*keys_after"):
		jobkit.DocTypeQuery("ToDo")


@pytest.mark.parametrize(
	("name", "args"), [("enqueue_doc", ("ToDo", "TD-1", "db_set")), ("queue_action", (None, "submit"))]
)
def test_a_documents_method_outside_frappe_names_what_to_use_instead(name, args):
	with pytest.raises(jobkit.NotConfigured, match=r"needs a Frappe site.*jobkit.enqueue"):
		getattr(jobkit, name)(*args)
