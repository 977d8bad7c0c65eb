// "Run Check Now" takes a snapshot at once and says its verdict; the record itself is written by
// jobkit only. Redis's memory figures are shown in MB beside the raw bytes, and each finding links
// to where it is dealt with.
const JOBKIT_FINDING_LINKS = {
	no_worker: "/app/rq-worker",
	stale_worker: "/app/rq-worker",
	paused_ignored: "/app/rq-worker",
	stuck_job: "/app/jobkit-jobs",
	queue_depth: "/app/jobkit-jobs",
	queue_wait: "/app/jobkit-jobs",
	paused: "/app/jobkit-jobs",
	failed_last_hour: "/app/jobkit-failed-job?status=Failed",
	delayed_overdue: "/app/jobkit-jobs",
	orphaned_unique_key: "/app/jobkit-jobs",
	error_logs: "/app/error-log",
	scheduler: "/app/scheduled-job-type",
	scheduler_tick: "/app/scheduled-job-type",
	scheduled_overdue: "/app/scheduled-job-type",
};

frappe.ui.form.on("Job Health Check", {
	refresh(frm) {
		frm.disable_save();
		// Its rows are read-only: no pencil that opens a row for editing.
		frm.page.wrapper.find(".jobkit-readonly-rows").remove();
		frm.page.wrapper.append(`<style class="jobkit-readonly-rows">.frappe-control[data-fieldname="findings"] .btn-open-row, .frappe-control[data-fieldname="queues"] .btn-open-row, .frappe-control[data-fieldname="limits"] .btn-open-row { display: none; }</style>`);
		frm.add_custom_button(__("Run Check Now"), () =>
			frappe.xcall("jobkit.api.run_health_check").then((name) =>
				frappe.db.get_value("Job Health Check", name, "verdict").then(({ message }) => {
					const colour = { OK: "green", Warning: "orange", Critical: "red" }[message.verdict];
					frappe.show_alert({ message: __("Checked now: {0}", [__(message.verdict)]), indicator: colour });
					frappe.set_route("Form", "Job Health Check", name);
				})
			)
		);
		const megabytes = (bytes) => __("{0} MB", [(bytes / 1048576).toFixed(1)]);
		frm.set_df_property("redis_used_memory", "description", megabytes(frm.doc.redis_used_memory || 0));
		frm.set_df_property(
			"redis_max_memory",
			"description",
			frm.doc.redis_max_memory ? megabytes(frm.doc.redis_max_memory) : __("no limit set (maxmemory 0)")
		);
		const links = (frm.doc.findings || [])
			.filter((row) => JOBKIT_FINDING_LINKS[row.check])
			.map((row) => `<li><a href="${JOBKIT_FINDING_LINKS[row.check]}">${frappe.utils.escape_html(row.check)}</a>: ${row.message}</li>`);
		// row.message is stored escaped (jobkit/site/text.py); the check is a code of jobkit's own.
		frm.set_intro(links.length ? `${__("Where to act:")}<ul style="margin-bottom:0">${links.join("")}</ul>` : "", "orange");
	},
});
