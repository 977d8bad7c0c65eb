"""The Jobkit workspace's charts come from the stats now (runs and run time by queue, last 24 h):
the two it had, daily averages of health snapshots, go."""

import frappe


def execute():
	for name in ("Jobkit Queue Depth", "Jobkit Queue Wait"):
		frappe.delete_doc_if_exists("Dashboard Chart", name)
