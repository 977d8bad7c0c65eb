app_name = "jobkit"
app_title = "Jobkit"
app_publisher = "jobkit contributors"
app_description = (
	"Production-grade background jobs for Frappe: atomic dedup, retries with backoff, batches, "
	"distributed locks, persistent progress and job health"
)
app_email = "jobkit@example.com"
app_license = "MIT"

# Where Frappe starts work, jobkit hands the engine the site's host and keeps Frappe's get_job
# truthful for jobkit's unique jobs (once per process; importing jobkit does neither).
before_request = ["jobkit.site.boot.setup"]
before_job = ["jobkit.site.boot.setup", "jobkit.site.stats.job_started"]
# Every job's runs, failures and durations, for the Jobs page and the metrics (site/stats.py).
after_job = ["jobkit.site.stats.job_ended"]
before_tests = ["jobkit.site.boot.setup"]

# Jobkit Settings keeps its documented defaults even after one field was set on its own.
after_install = "jobkit.site.install.ensure_settings_defaults"
after_migrate = "jobkit.site.install.after_migrate"

# The "Background jobs" tray in the navbar (progress of the user's jobs and batches).
app_include_js = ["/assets/jobkit/js/jobkit_tray.js"]

scheduler_events = {
	"cron": {
		# Every minute (Frappe's `all` event fires every 60-240 s), all light, in the scheduler's slot:
		# - promote_due: due delayed jobs and retries onto their queues (one Lua call per queue);
		# - reap_lost_runs: runs whose process died, retried or recorded as failed jobs (one Lua
		#   call when nothing was lost);
		# - take_due_snapshot: a Job Health Check when the last is older than Jobkit Settings'
		#   interval (5 min): one health collection (a few ms) and the scheduler's checks.
		"* * * * *": [
			"jobkit.tasks.promote.promote_due",
			"jobkit.tasks.reap.reap_lost_runs",
			"jobkit.tasks.health.take_due_snapshot",
		],
	},
	# The stats' last complete hour into Jobkit Job Stat records (site/records/job_stats.py).
	"hourly": ["jobkit.tasks.stats.roll_up"],
}

# Log Settings prunes these records daily after this many days unless a System Manager sets
# another number there ("Logs to Clear").
default_log_clearing_doctypes = {
	"Jobkit Failed Job": 30,
	"Jobkit Skipped Run": 30,
	"Jobkit Batch": 30,
	"Job Health Check": 30,
	"Jobkit Job Stat": 90,
}

# A batch's record, a failed job's and a skipped run's, is for the job's user and for System Managers.
has_permission = {
	"Jobkit Batch": "jobkit.site.access.has_permission",
	"Jobkit Failed Job": "jobkit.site.access.has_permission",
	"Jobkit Skipped Run": "jobkit.site.access.has_permission",
}
permission_query_conditions = {
	"Jobkit Batch": "jobkit.site.access.batch_conditions",
	"Jobkit Failed Job": "jobkit.site.access.failed_job_conditions",
	"Jobkit Skipped Run": "jobkit.site.access.skipped_run_conditions",
}
