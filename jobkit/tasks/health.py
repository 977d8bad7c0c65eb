"""Scheduler target: a Job Health Check snapshot when the last one is older than the interval."""

import jobkit
from jobkit.site.records import health_checks


@jobkit.light
def take_due_snapshot() -> None:
	# Light enough for the scheduler's slot: one health collection (a few ms of Redis) and the
	# site's scheduler checks, at most once per Jobkit Settings' interval (5 minutes by default).
	health_checks.take_due_snapshot()
