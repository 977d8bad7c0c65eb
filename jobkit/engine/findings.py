"""A finding: one thing a check found wrong, and how bad it is. Job health (``health``) and the
check of scheduler events (``schedule_check``) both report findings, in one vocabulary."""

from collections.abc import Iterable
from dataclasses import dataclass

OK, WARNING, CRITICAL = "OK", "Warning", "Critical"
SEVERITY_ORDER = {OK: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Finding:
	severity: str  # WARNING or CRITICAL; OK for a note that is no fault (a paused queue)
	check: str
	message: str
	queue: str | None = None


def worst(findings: Iterable[Finding]) -> str:
	"""The verdict over ``findings``: the worst severity among them, OK for none."""
	return max((finding.severity for finding in findings), key=SEVERITY_ORDER.get, default=OK)
