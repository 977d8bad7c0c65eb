"""jobkit's Lua scripts (``scripts/*.lua``, each documenting its KEYS and ARGV), run by SHA.

Scripts are sent by ``EVALSHA``; a server that does not know one yet (first use, a restart,
``SCRIPT FLUSH``) answers NOSCRIPT and the script is loaded once and the call repeated. A
pipeline that queues a script must do the same (``run_pipeline``), because redis-py's own
script handling in pipelines costs a ``SCRIPT EXISTS`` round trip on every execute.
"""

import hashlib
from pathlib import Path

from redis.exceptions import NoScriptError

SCRIPTS_DIR = Path(__file__).parent / "scripts"


class Script:
	def __init__(self, name: str):
		self.name = name
		self.source = (SCRIPTS_DIR / f"{name}.lua").read_text()
		self.sha = hashlib.sha1(self.source.encode()).hexdigest()

	def __repr__(self) -> str:
		return f"<Script {self.name} {self.sha[:8]}>"

	def __call__(self, connection, keys: list, args: list):
		try:
			return connection.evalsha(self.sha, len(keys), *keys, *args)
		except NoScriptError:
			connection.script_load(self.source)
			return connection.evalsha(self.sha, len(keys), *keys, *args)

	def queue(self, pipeline, keys: list, args: list) -> None:
		"""Add a call to ``pipeline``; run it with ``run_pipeline``."""
		pipeline.evalsha(self.sha, len(keys), *keys, *args)


def run_pipeline(connection, build) -> list:
	"""Execute the pipeline ``build(pipeline)`` fills, loading scripts once on NOSCRIPT.

	``build`` must be safe to run twice (the commands are sent again after the load).
	"""
	for attempt in range(2):
		pipeline = connection.pipeline(transaction=False)
		scripts = build(pipeline)
		results = pipeline.execute(raise_on_error=False)
		missing = [r for r in results if isinstance(r, NoScriptError)]
		if not missing or attempt:
			for result in results:
				if isinstance(result, Exception):
					raise result
			return results
		for script in scripts:
			connection.script_load(script.source)
	raise AssertionError("unreachable")


CLAIM = Script("claim")
RELEASE = Script("release")
EXTEND = Script("extend")
ACQUIRE = Script("acquire")
WHO_HOLDS = Script("held")
