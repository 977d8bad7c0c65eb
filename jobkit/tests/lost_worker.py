"""A `bench jobkit-worker` lost between its pop and its start, for ``test_worker``.

    python -m jobkit.tests.lost_worker QUEUE     (from the bench's sites folder)

It builds the worker `bench jobkit-worker` runs, as it does, takes one job with the worker's own pop,
prints the job's RQ id, and waits to be killed: the job has left its queue and not started.
"""

import sys
import time

import frappe
from frappe.utils.background_jobs import get_queue_list, get_redis_conn

from jobkit.site.worker import Worker

KILL_WAIT_SECONDS = 300


def main(queue: str) -> None:
	with frappe.init_site():
		connection = get_redis_conn()
		queues = get_queue_list([queue], build_queue_name=True)
	worker = Worker(queues, connection=connection)
	taken = worker.dequeue_job_and_maintain_ttl(timeout=KILL_WAIT_SECONDS)
	print(taken[0].id if taken else "", flush=True)
	time.sleep(KILL_WAIT_SECONDS)


if __name__ == "__main__":
	main(sys.argv[1])
