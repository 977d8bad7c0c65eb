// "Run Check Now" takes a snapshot at once; the record itself is written by jobkit only.
frappe.ui.form.on("Job Health Check", {
	refresh(frm) {
		frm.disable_save();
		frm.add_custom_button(__("Run Check Now"), () =>
			frappe
				.xcall("jobkit.api.run_health_check")
				.then((name) => frappe.set_route("Form", "Job Health Check", name)),
		);
	},
});
