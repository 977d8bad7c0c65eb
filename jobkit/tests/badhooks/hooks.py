app_name = "badhooks"

scheduler_events = {
	"all": ["jobkit.tests.badhooks.tasks.sync_all_customers"],
	"daily": ["jobkit.tests.badhooks.tasks.nightly_cleanup"],
	"cron": {
		"61 * * * *": ["jobkit.tests.badhooks.tasks.bad_cron"],
		"0 3 * * *": [
			"jobkit.tests.badhooks.tasks.gone",
			"jobkit.tests.badhooks.tasks.needs_arguments",
			"jobkit.tests.badhooks.tasks.long_report",
			"jobkit.tests.badhooks.tasks.handed_off",
			"jobkit.tests.badhooks.tasks.quick_check",
		],
		"30 4 * * 1-5": ["jobkit.tests.badhooks.tasks.nightly_cleanup"],
	},
}
