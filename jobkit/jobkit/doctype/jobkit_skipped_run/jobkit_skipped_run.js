// A skipped run's record is written by jobkit only: nothing here is edited by hand.
frappe.ui.form.on("Jobkit Skipped Run", {
	refresh(frm) {
		frm.disable_save();
	},
});
