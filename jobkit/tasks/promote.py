"""Promote due delayed jobs, from Frappe's scheduler (every minute, for each site).

The queues are the bench's, shared by its sites, so one site's run moves every site's due jobs;
the runs of the other sites then find nothing to do. Precision is the scheduler's tick plus the
wait for a free default-queue worker.
"""

import frappe

import jobkit


@jobkit.light  # one Lua call per queue: it belongs in the scheduler's slot, not handed off
def promote_due() -> None:
	moved = jobkit.promote_due()
	if moved:
		frappe.logger("jobkit").info(f"promoted {moved} due delayed job(s)")
