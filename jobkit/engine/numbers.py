"""Checks for the numbers users give jobkit (timeouts, delays, TTLs, backoffs)."""

import math


def is_number(value: object) -> bool:
	"""A real number: an int or float, not a bool and not NaN."""
	return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def whole_seconds(seconds: float) -> int:
	"""Round up: Redis and RQ count whole seconds, and a wait must never shrink to less."""
	return math.ceil(seconds)
