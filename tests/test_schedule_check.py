"""The engine's checks of scheduled entries, on the test app's targets (no Frappe needed)."""

from datetime import datetime
from zoneinfo import ZoneInfo

from jobkit.engine import schedule_check

TASKS = "jobkit.tests.badhooks.tasks"
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Kolkata"))
TIMEOUTS = {"short": 300, "default": 300, "long": 1500}


def check(*entries):
	return schedule_check.check(list(entries), now=NOW, queue_timeouts=TIMEOUTS)


def findings(report) -> list[tuple[str, str]]:
	return [(finding.severity, finding.check) for finding in report.findings]


def test_a_handed_off_target_is_clean_and_shows_its_queue_and_next_runs():
	[report] = check(("app", "cron", "30 2 * * 1-5", f"{TASKS}.handed_off", "default"))
	assert report.ok and report.findings == []
	assert (report.queue, report.timeout, report.handed_off) == ("long", 900, True)
	assert report.next_runs == [
		datetime(2026, 11, 24, 2, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
		datetime(2026, 11, 25, 2, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
		datetime(2026, 11, 26, 2, 30, tzinfo=ZoneInfo("Asia/Kolkata")),
	]


def test_each_mistake_is_reported_with_its_severity():
	reports = check(
		("app", "cron", "61 * * * *", f"{TASKS}.bad_cron", "default"),
		("app", "cron", "0 3 * * *", f"{TASKS}.gone", "default"),
		("app", "cron", "0 3 * * *", f"{TASKS}.needs_arguments", "default"),
		("app", "all", "*/4 * * * *", f"{TASKS}.sync_all_customers", "default"),
		("app", "fortnightly", None, f"{TASKS}.long_report", "default"),
	)
	assert [findings(report) for report in reports] == [
		[("Critical", "invalid_cron"), ("Warning", "default_timeout")],
		[("Critical", "import")],
		[("Critical", "arguments"), ("Warning", "default_timeout")],
		[("Warning", "heavy_all")],
		[("Critical", "unknown_event")],
	]
	assert "customer" in reports[2].findings[0].message
	assert [report.ok for report in reports] == [False, False, False, True, False]


def test_a_method_registered_twice_is_an_error_on_both_entries():
	reports = check(
		("app", "daily", "0 0 * * *", f"{TASKS}.nightly_cleanup", "default"),
		("other_app", "cron", "30 4 * * 1-5", f"{TASKS}.nightly_cleanup", "default"),
	)
	for report in reports:
		[duplicate] = [finding for finding in report.findings if finding.check == "duplicate"]
		assert duplicate.severity == "Critical"
		assert "app: daily 0 0 * * *; other_app: cron 30 4 * * 1-5" in duplicate.message


def test_a_target_declared_light_is_not_warned_about():
	[report] = check(("app", "cron", "* * * * *", f"{TASKS}.quick_check", "default"))
	assert (report.findings, report.queue, report.handed_off) == ([], "default", False)
