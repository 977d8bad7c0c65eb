"""Where jobkit meets a Frappe process: the engine asks ``site_host`` for the host while a site is
active (``jobkit.engine.context.FRAMEWORK_PROVIDERS`` names it), and Frappe calls ``setup`` before
every request, job and test run (``before_request``, ``before_job``, ``before_tests`` in hooks.py),
which keeps Frappe's ``get_job`` truthful for jobkit's unique jobs (``job_lookup``). Importing jobkit
does neither.
"""

import sys

_set_up = False


def setup(*args, **kwargs) -> None:
	"""Once per process (Frappe's ``before_job`` passes the job's method and kwargs: not needed)."""
	global _set_up
	if _set_up:
		return
	from jobkit.site import job_lookup

	job_lookup.install()
	_set_up = True


def site_host():
	"""The Frappe host while a Frappe site is active in this context, else None."""
	frappe = sys.modules.get("frappe")
	if frappe is None or not getattr(getattr(frappe, "local", None), "site", None):
		return None
	from jobkit.site.host import host  # the host imports the engine: only once a site asks for it

	if not _set_up:
		setup()  # a process Frappe's hooks did not set up (bench console, bench execute)
	return host
