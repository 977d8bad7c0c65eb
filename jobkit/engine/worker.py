"""RQ workers that import jobkit once, in the worker, instead of in every forked work-horse.

    rq worker --worker-class jobkit.engine.worker.Worker short default long

Any RQ worker runs jobkit jobs. A forking worker that has not imported jobkit makes each job
import it after the fork (about 25 ms); importing it here, before the first fork, saves that on
every job, which matters for many short jobs such as batch chunks.
"""

from rq.worker import SimpleWorker as _SimpleWorker
from rq.worker import Worker as _Worker

import jobkit
import jobkit.engine.batch_runner
import jobkit.engine.runner


class Worker(_Worker):
	"""rq's forking Worker, with jobkit loaded in the parent."""


class SimpleWorker(_SimpleWorker):
	"""rq's SimpleWorker (no fork), with jobkit loaded up front."""
