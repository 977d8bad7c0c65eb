"""Text from jobs as the desk shows it, and times as Frappe stores them: one place for both."""

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import frappe

# Longest kwargs text shown on a record; the stored job keeps all of it.
MAX_KWARGS_SHOWN = 100_000


def as_text(value: str) -> str:
	"""``value`` escaped, so that the desk shows text from a job (an error, a job id) as text.

	Read-only Data and Small Text fields render their value as HTML; Frappe's sanitiser only
	removes scripts and handlers, so ``<img src=x>`` in an error message would still render.
	"""
	return frappe.utils.escape_html(value)


def shown_kwargs(kwargs: dict) -> str:
	text = json.dumps(kwargs, indent=1, default=str)
	if len(text) > MAX_KWARGS_SHOWN:
		text = text[:MAX_KWARGS_SHOWN] + f"\n… ({len(text) - MAX_KWARGS_SHOWN} more characters)"
	return text


def site_timezone() -> ZoneInfo:
	"""The zone of Frappe's naive datetimes (``now_datetime``, ``add_to_date``): the system time zone."""
	from frappe.utils import get_system_timezone

	return ZoneInfo(get_system_timezone())


def site_time(timestamp: float) -> datetime:
	"""A Unix time as Frappe stores datetimes: naive, in the site's time zone."""
	return datetime.fromtimestamp(timestamp, site_timezone()).replace(tzinfo=None)
