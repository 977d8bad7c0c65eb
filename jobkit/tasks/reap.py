"""Reap this site's lost runs (``jobkit.reap``), from Frappe's scheduler, every minute.

A run whose process died (SIGKILL, the OOM killer, a lost machine) is found once its lease
(``jobkit_lease_seconds`` in site_config.json, 60 s by default) has gone unrenewed: retried under
its policy, else recorded as a "Jobkit Failed Job" with the error ``WorkerLost``. A job that one of
jobkit's workers took off its queue and never started (the worker died in between) goes back to
its queue.
"""

import frappe

import jobkit


@jobkit.light  # one Lua call when nothing was lost: it belongs in the scheduler's slot
def reap_lost_runs() -> None:
	for reaped in jobkit.reap():
		frappe.logger("jobkit").warning(str(reaped))
