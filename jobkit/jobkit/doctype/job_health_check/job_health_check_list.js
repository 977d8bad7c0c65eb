// Verdict colours, and "Run Check Now".
frappe.listview_settings["Job Health Check"] = {
	add_fields: ["verdict"],
	get_indicator(doc) {
		const colour = { OK: "green", Warning: "orange", Critical: "red" }[doc.verdict];
		return [__(doc.verdict), colour, `verdict,=,${doc.verdict}`];
	},
	onload(listview) {
		listview.page.add_inner_button(__("Run Check Now"), () =>
			frappe.xcall("jobkit.api.run_health_check").then(() => listview.refresh()),
		);
	},
};
