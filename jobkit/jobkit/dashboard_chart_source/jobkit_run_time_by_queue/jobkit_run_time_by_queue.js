// The stats' last 24 hours by queue, from Redis (jobkit/site/workspace.py).
frappe.provide("frappe.dashboards.chart_sources");

frappe.dashboards.chart_sources["Jobkit Run Time by Queue"] = {
	method: "jobkit.api.durations_chart",
	filters: [],
};
