"""The long-running promoter: moves due delayed jobs onto their queues about once a second, runs the
gates' timer (``limits``), and reaps the runs of its namespaces whose process died (``reaper``).

    python -m jobkit.engine.promoter --url redis://127.0.0.1:6379/0 [--queues default,short,long]
        [--namespace default ...]

Optional: without it, due jobs wait for the next ``promote_due()`` call and lost runs for the next
``reap()`` (under Frappe, jobkit's per-minute scheduler entries). Run one per host if you like;
promotion and reaping are atomic, so any number of promoters never push or reap a job twice.
SIGTERM or SIGINT stops it after the current pass.
"""

import argparse
import logging
import signal
import threading

from jobkit.engine import reaper, waits
from jobkit.engine.delayed import promote_due
from jobkit.engine.errors import InvalidArgument
from jobkit.engine.limits import gates
from jobkit.engine.rq_host import DEFAULT_QUEUE_NAMES, RQHost, connect

DEFAULT_INTERVAL = 1.0

logger = logging.getLogger("jobkit")


def run(connection, rq_queues: list, interval: float = DEFAULT_INTERVAL, stop=None, hosts: list = ()) -> None:
	"""Promote due jobs, and reap the lost runs of ``hosts``, every ``interval`` seconds until
	``stop`` (a threading.Event) is set."""
	stop = stop or threading.Event()
	while not stop.is_set():
		try:
			moved = promote_due(connection, rq_queues)
			if moved:
				logger.info("jobkit promoter: %s due job(s) queued", moved)
			done = gates.tick(connection)
			if done:
				logger.info("jobkit promoter: %s", done)
			for host in hosts:
				waits.record(host)
				for reaped in reaper.reap(host):
					logger.info("jobkit promoter: %s", reaped)
		except Exception:
			# A Redis restart or a network blip must not end the promoter; the next pass retries.
			logger.exception("jobkit promoter: pass failed")
		stop.wait(interval)


def stop_on_signals() -> threading.Event:
	stop = threading.Event()
	for signum in (signal.SIGTERM, signal.SIGINT):
		signal.signal(signum, lambda *_: stop.set())
	return stop


def main() -> None:
	from rq import Queue

	parser = argparse.ArgumentParser(
		description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
	)
	parser.add_argument(
		"--url",
		required=True,
		help="Redis URL of the queues (redis+sentinel://host:26379/master for Sentinel)",
	)
	parser.add_argument("--queues", default=",".join(DEFAULT_QUEUE_NAMES), help="comma-separated queue names")
	parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL, help="seconds between passes")
	parser.add_argument(
		"--namespace",
		action="append",
		help="namespace whose lost runs to reap (repeat for several; default: 'default')",
	)
	args = parser.parse_args()
	if not args.interval > 0:
		parser.error("--interval must be more than 0 seconds")
	logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
	try:
		connection = connect(args.url)  # a redis:// URL, or redis+sentinel:// for a Sentinel set
	except InvalidArgument as e:
		parser.error(str(e))
	queues = [Queue(name.strip(), connection=connection) for name in args.queues.split(",") if name.strip()]
	try:
		hosts = [RQHost(connection, namespace) for namespace in args.namespace or ["default"]]
	except InvalidArgument as e:  # a namespace jobkit does not accept
		parser.error(str(e))
	logger.info(
		"jobkit promoter: watching %s every %ss, reaping %s",
		", ".join(q.name for q in queues),
		args.interval,
		", ".join(host.namespace for host in hosts),
	)
	run(connection, queues, args.interval, stop_on_signals(), hosts)


if __name__ == "__main__":
	main()
