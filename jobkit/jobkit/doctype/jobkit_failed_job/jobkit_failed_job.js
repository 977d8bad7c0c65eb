// Retry and Discard on one record; the list view offers the same for many.
frappe.ui.form.on("Jobkit Failed Job", {
	refresh(frm) {
		frm.disable_save(); // written by jobkit only: nothing here is edited by hand
		// Its rows are read-only: no pencil that opens a row for editing.
		frm.page.wrapper.find(".jobkit-readonly-rows").remove();
		frm.page.wrapper.append(`<style class="jobkit-readonly-rows">.frappe-control[data-fieldname="attempt_errors"] .btn-open-row { display: none; }</style>`);
		const manager = frappe.user.has_role("System Manager");
		if (frm.doc.retried_as && manager) {
			frm.add_custom_button(__("Find the retry"), () => {
				frappe.route_options = { search: frm.doc.retried_as };
				frappe.set_route("jobkit-jobs");
			});
		}
		if (frm.doc.status !== "Failed") return;
		if (!manager) {
			frm.set_intro(
				__("Only a System Manager can retry or discard this job: ask one, naming this record ({0}).", [
					frappe.utils.escape_html(frm.doc.name),
				]),
				"blue"
			);
			return;
		}
		const act = (action) =>
			frappe
				.xcall(`jobkit.api.${action}_failed_jobs`, { names: [frm.doc.name] })
				.then((outcome) => {
					const error = outcome.errors[frm.doc.name];
					if (error) {
						frappe.msgprint({ message: frappe.utils.escape_html(error), indicator: "red" });
					} else {
						frappe.show_alert({ message: frappe.utils.escape_html(outcome.message), indicator: "green" });
					}
					frm.reload_doc();
				});
		frm.add_custom_button(__("Retry"), () => act("retry"));
		frm.add_custom_button(__("Discard"), () =>
			frappe.confirm(__("Discard this failed job? It will not be run again."), () => act("discard"))
		);
	},
});
