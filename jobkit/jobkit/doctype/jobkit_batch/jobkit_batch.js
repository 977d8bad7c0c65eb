// Cancel a running batch, or retry its failed items as a new batch; the form follows it while it runs.
frappe.ui.form.on("Jobkit Batch", {
	refresh(frm) {
		frm.disable_save(); // written by jobkit only: nothing here is edited by hand
		// Its rows are read-only: no pencil that opens a row for editing.
		frm.page.wrapper.find(".jobkit-readonly-rows").remove();
		frm.page.wrapper.append(`<style class="jobkit-readonly-rows">.frappe-control[data-fieldname="failed_items"] .btn-open-row { display: none; }</style>`);
		const running = ["Queued", "Running"].includes(frm.doc.status);
		const call = (method, then) =>
			frappe.xcall(`jobkit.api.${method}`, { name: frm.doc.name }).then((outcome) => {
				frappe.show_alert({ message: frappe.utils.escape_html(outcome.message), indicator: "green" });
				then ? then(outcome) : frm.reload_doc();
			});
		if (running && !frm.doc.cancelled_by) {
			frm.add_custom_button(__("Cancel Batch"), () =>
				frappe.confirm(
					__("Cancel this batch? Queued chunks are dropped; running chunks stop at their next item."),
					() => call("cancel_batch"),
				),
			);
		}
		if (!running && frm.doc.failed && !frm.doc.retried_as) {
			frm.add_custom_button(__("Retry Failed Items"), () =>
				call("retry_batch_failed_items", (outcome) =>
					frappe.set_route("Form", "Jobkit Batch", outcome.batch),
				),
			);
		}
		clearTimeout(frm.jobkit_refresh);
		if (running) {
			// The record is updated at most once a second while chunks run.
			const route = frappe.get_route_str();
			frm.jobkit_refresh = setTimeout(() => frappe.get_route_str() === route && frm.reload_doc(), 3000);
		}
	},
});
