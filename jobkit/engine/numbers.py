"""Checks for the numbers users give jobkit (timeouts, delays, TTLs, backoffs, counts, limits)."""

import math

from jobkit.engine.errors import InvalidArgument


def is_number(value: object) -> bool:
	"""A real number: an int or float, not a bool and not NaN."""
	return not isinstance(value, bool) and isinstance(value, int | float) and value == value


def whole_number(name: str, value: object, minimum: int = 1) -> int:
	"""``value`` if it is a whole number (not a bool) of at least ``minimum``, else ``InvalidArgument``
	naming ``name``."""
	if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
		raise InvalidArgument(f"{name} must be a whole number of at least {minimum}, not {value!r}")
	return value


def whole_seconds(seconds: float) -> int:
	"""Round up: Redis and RQ count whole seconds, and a wait must never shrink to less."""
	return math.ceil(seconds)
