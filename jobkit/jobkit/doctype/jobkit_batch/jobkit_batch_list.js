// Status colours; the Progress column shows each batch's share of items counted.
frappe.listview_settings["Jobkit Batch"] = {
	hide_name_column: true, // the title says what it is; the id is in the form
	add_fields: ["status", "progress", "failed"],
	get_indicator(doc) {
		const colour = {
			Queued: "gray",
			Running: "blue",
			Completed: "green",
			"Completed with errors": "orange",
			Failed: "red",
			Cancelled: "darkgrey",
		}[doc.status];
		return [__(doc.status), colour, `status,=,${doc.status}`];
	},
	refresh(listview) {
		// While any batch on the page runs, reload the list every few seconds.
		clearTimeout(listview.jobkit_refresh);
		if (listview.data.some((doc) => ["Queued", "Running"].includes(doc.status))) {
			listview.jobkit_refresh = setTimeout(() => listview.refresh(), 5000);
		}
	},
};
