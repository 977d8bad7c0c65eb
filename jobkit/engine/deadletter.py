"""Old home of ``DeadLetter``, kept for one release: dead letters pickled in Redis name
``jobkit.engine.deadletter.DeadLetter``. The record lives in ``jobkit.engine.dead_letter``."""

from jobkit.engine.dead_letter import REDACTED, DeadLetter, failure, redact

__all__ = ["REDACTED", "DeadLetter", "failure", "redact"]
