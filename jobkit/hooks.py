app_name = "jobkit"
app_title = "Jobkit"
app_publisher = "jobkit contributors"
app_description = (
	"Production-grade background jobs for Frappe: atomic dedup, retries with backoff, batches, "
	"distributed locks, persistent progress and job health"
)
app_email = "jobkit@example.com"
app_license = "MIT"
