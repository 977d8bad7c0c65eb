"""A jobkit.Query over an SQLite table (the standard library's), for the batch planning tests."""

import sqlite3


class SQLiteQuery:
	def __init__(self, path: str, table: str = "items", key: str = "id"):
		self.path, self.table, self.key = path, table, key

	def keys_after(self, after, limit: int) -> list:
		with sqlite3.connect(self.path) as db:
			rows = db.execute(
				f"select {self.key} from {self.table} where {self.key} > ? order by {self.key} limit ?",
				(after if after is not None else -1, limit),
			)
			return [row[0] for row in rows]

	def load(self, after, upto) -> list:
		with sqlite3.connect(self.path) as db:
			rows = db.execute(
				f"select {self.key} from {self.table} where {self.key} > ? and {self.key} <= ? order by {self.key}",
				(after if after is not None else -1, upto),
			)
			return [row[0] for row in rows]


def create_table(path: str, rows: int) -> None:
	with sqlite3.connect(path) as db:
		db.execute("create table items (id integer primary key, name text)")
		db.executemany("insert into items values (?, ?)", ((n, f"item {n}") for n in range(rows)))
