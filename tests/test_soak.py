"""The chaos soak, short: a minute of mixed load under worker kills, a Redis restart and two
promoters (``benchmarks/soak.py``) ends with every invariant holding."""

import re
import subprocess
import sys

import pytest

from tests.workers import REPO, worker_env

SOAK_MINUTES = 1


@pytest.mark.timeout(600)
def test_a_minute_of_chaos_loses_nothing_and_runs_nothing_twice_at_once():
	result = subprocess.run(
		[sys.executable, "benchmarks/soak.py", "--minutes", str(SOAK_MINUTES)],
		cwd=REPO,
		env=worker_env(),
		capture_output=True,
		text=True,
		timeout=540,
	)
	# The failed invariants first (a test summary shows a failure's first lines), then the report.
	failed = [line.strip() for line in result.stdout.splitlines() if " FAILED " in line]
	report = "\n".join([*failed, f"soak exited {result.returncode}", result.stdout, result.stderr])
	assert result.returncode == 0, report
	assert "all invariants hold" in result.stdout, report
	assert re.search(r"limit never exceeded .* ok +\d+ runs", result.stdout), report
	assert re.search(r"rate never exceeded .* ok +\d+ starts", result.stdout), report
	figures = dict(
		re.findall(r"^  (duplicates|redis restarts|kills survived|superseded) +(\d+)", result.stdout, re.M)
	)
	assert figures["duplicates"] == "0", report
	assert figures["redis restarts"] == "1", report
	assert int(figures["kills survived"]) >= 5, report
	assert "superseded" in figures, report  # how many killed runs' retries a newer copy superseded
