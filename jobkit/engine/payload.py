"""The serialised size and picklability of a job, checked before anything reaches Redis."""

import pickle

from jobkit.engine.errors import PayloadTooLarge, UnserializableArguments

# What RQ's default serializer raises for objects it cannot pickle (locks, lambdas, sockets...).
PICKLE_ERRORS = (pickle.PicklingError, TypeError, AttributeError, RecursionError)


def serialise(job, kwargs: dict, limit: int, method: str) -> bytes:
	"""Serialise an RQ job once (RQ caches the bytes for its save) and enforce ``limit``."""
	try:
		data = job.data
	except PICKLE_ERRORS as e:
		name, value = _first_unpicklable(kwargs)
		where = f"keyword argument {name!r} ({type(value).__name__})" if name else "the job"
		raise UnserializableArguments(
			f"{where} of job {method!r} cannot be serialised for the queue ({type(e).__name__}: {e}). "
			"Pass plain data (names, numbers, strings, lists, dicts) and load objects inside the job"
		) from e
	if len(data) > limit:
		raise PayloadTooLarge(
			f"job {method!r} serialises to {len(data):,} bytes, above the limit of {limit:,} bytes. "
			"Pass names or ids and load the records inside the job; if the size is intended, raise "
			"max_payload_bytes (jobkit.configure, or 'jobkit_max_payload_bytes' in site_config.json)"
		)
	return data


def _first_unpicklable(kwargs: dict) -> tuple[str | None, object]:
	for name, value in kwargs.items():
		try:
			pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
		except PICKLE_ERRORS:
			return name, value
	return None, None
