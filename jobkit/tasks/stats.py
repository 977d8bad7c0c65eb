"""Scheduler target: the stats' complete hours rolled up into Jobkit Job Stat records."""

import jobkit
from jobkit.site.records import job_stats


@jobkit.light
def roll_up() -> None:
	# Light: one hash read per hour not yet written (one, but after an outage) and its records.
	job_stats.roll_up()
