"""jobkit's Lua scripts (``lua/*.lua``, each documenting its KEYS and ARGV), run by SHA.

Scripts are sent by ``EVALSHA``; a server that does not know one yet (first use, a restart,
``SCRIPT FLUSH``) answers NOSCRIPT and the script is loaded once and the call repeated. (redis-py's
``register_script`` does the same, but its use in pipelines costs a ``SCRIPT EXISTS`` round trip
on every execute.) The batch scripts share local functions (``batch_common.lua``), sent before
each of them as part of its source.
"""

import functools
import hashlib
from pathlib import Path

from redis.exceptions import NoScriptError

SCRIPTS_DIR = Path(__file__).parent / "lua"


class Script:
	"""A script, and before it the scripts it ``uses`` (their local functions), sent as one."""

	def __init__(self, name: str, uses: tuple[str, ...] = ()):
		self.name = name
		self.uses = uses

	# Read on first use, not at import: a process that imports jobkit for one script (a stock
	# `bench worker`'s work-horse recording a run's stats) reads one file, not all of them.
	@functools.cached_property
	def source(self) -> str:
		return "".join((SCRIPTS_DIR / f"{part}.lua").read_text() for part in (*self.uses, self.name))

	@functools.cached_property
	def sha(self) -> str:
		return hashlib.sha1(self.source.encode()).hexdigest()

	def __repr__(self) -> str:
		return f"<Script {self.name} {self.sha[:8]}>"

	def __call__(self, connection, keys: list, args: list):
		try:
			return connection.evalsha(self.sha, len(keys), *keys, *args)
		except NoScriptError:
			connection.script_load(self.source)
			return connection.evalsha(self.sha, len(keys), *keys, *args)

	def on(self, pipe, keys: list, args: list) -> None:
		"""Queue a call on ``pipe`` (a pipeline that ``execute_with`` runs)."""
		pipe.evalsha(self.sha, len(keys), *keys, *args)


def execute_with(connection, fill, *scripts: Script) -> list:
	"""Run a pipeline (no transaction) that ``fill(pipe)`` queues and that calls ``scripts``.

	A server that does not know one of them yet answers NOSCRIPT for that call and runs the rest:
	the scripts are loaded and the pipeline is filled and run once more, so its other commands
	must be safe to run twice.
	"""
	try:
		return _filled(connection, fill).execute()
	except NoScriptError:
		for script in scripts:
			connection.script_load(script.source)
		return _filled(connection, fill).execute()


def _filled(connection, fill):
	pipe = connection.pipeline(transaction=False)
	fill(pipe)
	return pipe


CLAIM = Script("claim", uses=("packed",))
RELEASE = Script("release")
EXTEND = Script("extend")
ACQUIRE = Script("acquire")
WHO_HOLDS = Script("held")
PROMOTE = Script("promote")
REAP_CLAIM = Script("reap_claim")
BATCH_END = Script("batch_end", uses=("batch_common",))
BATCH_CANCEL = Script("batch_cancel", uses=("batch_common",))
BATCH_WRITE = Script("batch_write", uses=("batch_common",))
BATCH_GIVE_UP = Script("batch_give_up", uses=("batch_common",))
TAKE = Script("take")
START = Script("start")
PUSH = Script("push", uses=("packed",))
GIVE_BACK = Script("give_back")
STATS_RECORD = Script("stats_record")
