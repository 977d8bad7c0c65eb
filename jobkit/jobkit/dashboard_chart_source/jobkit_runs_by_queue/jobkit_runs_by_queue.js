// The stats' last 24 hours by queue, from Redis (jobkit/site/workspace.py).
frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["Jobkit Runs by Queue"] = {
	method: "jobkit.api.runs_chart",
	filters: [],
};
