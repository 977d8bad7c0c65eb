"""jobkit's Lua scripts (``scripts/*.lua``, each documenting its KEYS and ARGV), run by SHA.

Scripts are sent by ``EVALSHA``; a server that does not know one yet (first use, a restart,
``SCRIPT FLUSH``) answers NOSCRIPT and the script is loaded once and the call repeated. (redis-py's
``register_script`` does the same, but its use in pipelines costs a ``SCRIPT EXISTS`` round trip
on every execute.)
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


CLAIM = Script("claim")
RELEASE = Script("release")
EXTEND = Script("extend")
ACQUIRE = Script("acquire")
WHO_HOLDS = Script("held")
PROMOTE = Script("promote")
REAP_CLAIM = Script("reap_claim")
BATCH_END = Script("batch_end")
BATCH_CANCEL = Script("batch_cancel")
TAKE = Script("take")
HOLD = Script("hold")
GIVE_BACK = Script("give_back")
