"""Targets of the test app's scheduler_events (none is ever run by the tests)."""

import jobkit


def sync_all_customers():
	pass


def nightly_cleanup():
	pass


def bad_cron():
	pass


def needs_arguments(customer):
	pass


def long_report():
	pass


@jobkit.job(queue="long", timeout=900)
def handed_off():
	pass


@jobkit.light
def quick_check():
	pass
