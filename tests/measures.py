"""What the limit tests, the soak and the flow-control benchmark measure, computed one way."""


def most_in_any_window(moments: list[float], seconds: float) -> int:
	"""The most of ``moments`` (Unix times) inside any window of ``seconds`` (half-open, so a moment
	exactly ``seconds`` after another falls in the next window)."""
	moments = sorted(moments)
	most, first = 0, 0
	for last, at in enumerate(moments):
		while moments[first] + seconds <= at:
			first += 1
		most = max(most, last - first + 1)
	return most
