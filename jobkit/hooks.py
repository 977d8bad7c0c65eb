app_name = "jobkit"
app_title = "Jobkit"
app_publisher = "jobkit contributors"
app_description = (
	"Production-grade background jobs for Frappe: atomic dedup, retries with backoff, batches, "
	"distributed locks, persistent progress and job health"
)
app_email = "jobkit@example.com"
app_license = "MIT"

scheduler_events = {
	"cron": {
		# Frappe's `all` event fires every 60-240 s; a cron entry runs each minute. Light: one Lua
		# call per queue, whatever the number of waiting jobs.
		"* * * * *": ["jobkit.tasks.promote.promote_due"],
	},
}

# Log Settings prunes these records daily after this many days unless a System Manager sets
# another number there ("Logs to Clear").
default_log_clearing_doctypes = {"Jobkit Failed Job": 30, "Jobkit Skipped Run": 30}
