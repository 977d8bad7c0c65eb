// Status colours, and Retry / Discard for the checked records (Actions menu).
frappe.listview_settings["Jobkit Failed Job"] = {
	add_fields: ["status"],
	get_indicator(doc) {
		const colour = { Failed: "red", Retried: "blue", Discarded: "gray" }[doc.status];
		return [__(doc.status), colour, `status,=,${doc.status}`];
	},
	onload(listview) {
		if (!frappe.user.has_role("System Manager")) return;
		const act = (action) => {
			const names = listview.get_checked_items(true);
			if (!names.length) return;
			frappe
				.xcall(`jobkit.api.${action}_failed_jobs`, { names })
				.then((outcome) => {
					const errors = Object.entries(outcome.errors).map(
						([name, error]) => `<li><b>${frappe.utils.escape_html(name)}</b>: ${frappe.utils.escape_html(error)}</li>`
					);
					if (errors.length) {
						frappe.msgprint({
							title: frappe.utils.escape_html(outcome.message),
							message: `<ul>${errors.join("")}</ul>`,
							indicator: "orange",
						});
					} else {
						frappe.show_alert({ message: frappe.utils.escape_html(outcome.message), indicator: "green" });
					}
					listview.clear_checked_items();
					listview.refresh();
				});
		};
		listview.page.add_actions_menu_item(__("Retry"), () => act("retry"), false);
		listview.page.add_actions_menu_item(
			__("Discard"),
			() => frappe.confirm(__("Discard the selected failed jobs? They will not be run again."), () => act("discard")),
			false
		);
	},
};
