"""jobkit.lock against a real Redis: mutual exclusion across processes, ownership, expiry, auto-extend."""

import json
import subprocess
import sys
import threading
import time

import pytest

import jobkit
from jobkit.engine import keys
from tests.conftest import NAMESPACE
from tests.workers import REPO, wait_for, worker_env

RACERS = 2
ITERATIONS = 300


def test_two_processes_never_hold_the_lock_at_once(host, conn, redis_url):
	barrier = "lock-race"
	racers = [
		subprocess.Popen(
			[
				sys.executable,
				"-m",
				"tests.lock_race",
				"--url",
				redis_url,
				"--iterations",
				str(ITERATIONS),
				"--barrier",
				barrier,
			],
			cwd=REPO,
			env=worker_env(),
			stdout=subprocess.PIPE,
			stderr=subprocess.PIPE,
			text=True,
		)
		for _ in range(RACERS)
	]
	wait_for(lambda: int(conn.get(f"{barrier}:ready") or 0) == RACERS, "every racer to be ready")
	conn.rpush(barrier, *[1] * RACERS)
	results = []
	for racer in racers:
		out, err = racer.communicate(timeout=240)
		assert racer.returncode == 0, err
		results.append(json.loads(out))
	assert [result["overlaps"] for result in results] == [0] * RACERS
	assert int(conn.get("counter")) == RACERS * ITERATIONS  # no read-modify-write was lost
	assert not conn.exists(keys.lock(NAMESPACE, "counter"))


def test_only_the_owner_releases_or_extends(host, conn):
	owner = jobkit.lock("invoice::42", ttl=30).acquire()
	other = jobkit.lock("invoice::42", ttl=30)
	with pytest.raises(jobkit.LockTimeout, match="invoice::42") as refused:
		other.acquire()
	assert refused.value.holder == owner.token
	other.token = "forged-token"  # a non-owner that claims to hold it
	with pytest.raises(jobkit.LockNotOwned):
		other.release()
	with pytest.raises(jobkit.LockNotOwned):
		other.extend()
	assert conn.get(keys.lock(NAMESPACE, "invoice::42")).decode() == owner.token
	owner.release()
	assert not owner.locked()


def test_an_expired_lock_is_taken_by_the_next_owner_and_the_first_cannot_free_it(host, conn):
	first = jobkit.lock("expiring", ttl=0.3).acquire()
	wait_for(lambda: not first.locked(), "the lock to expire")
	second = jobkit.lock("expiring", ttl=30).acquire()
	with pytest.raises(jobkit.LockNotOwned, match="expired"):
		first.release()
	assert second.locked()  # the late release did not free the new owner's lock
	second.release()


def test_auto_extend_keeps_a_slow_holders_lock(host, conn):
	with jobkit.lock("slow", ttl=0.6, auto_extend=True) as holder:
		deadline = time.monotonic() + 2  # more than three TTLs
		while time.monotonic() < deadline:
			with pytest.raises(jobkit.LockTimeout):
				jobkit.lock("slow").acquire()
			time.sleep(0.2)
		assert holder.locked()
	assert not conn.exists(keys.lock(NAMESPACE, "slow"))


def test_a_waiter_gets_the_lock_once_it_is_released(host, conn):
	holder = jobkit.lock("shared", ttl=30).acquire()
	threading.Timer(0.3, holder.release).start()
	with jobkit.lock("shared", ttl=30, wait=20) as waiter:
		assert conn.get(keys.lock(NAMESPACE, "shared")).decode() == waiter.token


def test_the_decorator_formats_the_name_with_the_call_arguments(host, conn):
	@jobkit.lock("sync::{customer}", wait=0)
	def sync(customer: str, inner_calls: tuple = ()) -> list:
		return [call() for call in inner_calls]

	def same_customer():
		return sync("acme")

	def other_customer():
		return sync("globex")

	with pytest.raises(jobkit.LockTimeout, match="sync::acme"):
		sync("acme", inner_calls=(same_customer,))
	assert sync("acme", inner_calls=(other_customer,)) == [[]]
	assert not conn.keys("jobkit:*:lock:*")  # every call released its lock


def test_a_decorator_name_must_use_the_functions_arguments(host):
	with pytest.raises(jobkit.InvalidArgument, match=r"has no argument 'client'.*customer"):

		@jobkit.lock("sync::{client}")
		def sync(customer):
			pass


def test_a_block_that_raises_releases_the_lock(host, conn):
	with pytest.raises(ValueError), jobkit.lock("failing"):
		raise ValueError("boom")
	assert not conn.exists(keys.lock(NAMESPACE, "failing"))


@pytest.mark.parametrize(
	"options, message",
	[
		({"name": ""}, "non-empty string"),
		({"name": "x" * 201}, "at most 200"),
		({"name": "a", "ttl": 0}, "ttl must be a positive number"),
		({"name": "a", "wait": -1}, "wait must be 0 or more"),
		({"name": "a", "ttl": "10"}, "ttl must be a positive number"),
	],
)
def test_bad_input_names_the_problem(host, options, message):
	with pytest.raises(jobkit.InvalidArgument, match=message):
		jobkit.lock(**options)


def test_a_held_lock_is_not_reentrant(host):
	with jobkit.lock("once") as held, pytest.raises(jobkit.InvalidArgument, match="not re-entrant"):
		held.acquire()
