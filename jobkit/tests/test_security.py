"""Security audit: every whitelisted endpoint and every record of jobs, by role, over real requests.

Each request goes through Frappe's WSGI application (what `bench serve` and gunicorn run), with the
caller's API key, or none for Guest. The roles: Guest; a Website User; a desk user without System
Manager ("Desk User"); the user who owns the batch, the progress and the failed job (also a desk
user); a System Manager. ``MATRIX`` is the table the README's security section shows.
"""

import json
import threading
from uuid import uuid4

import frappe
from frappe.utils import get_test_client

import jobkit
from jobkit import api
from jobkit.engine import dead_letter
from jobkit.engine.envelope import Envelope
from jobkit.site.host import host
from jobkit.site.records import failed_jobs
from jobkit.tests.utils import JobkitTestCase, ensure_user


class _Gone:
	"""What a cleanup deletes when the job it made is gone already."""

	@staticmethod
	def delete():
		pass


GUEST, WEBSITE, DESK, OWNER, MANAGER = "guest", "website user", "desk user", "owner", "System Manager"
ROLES = (GUEST, WEBSITE, DESK, OWNER, MANAGER)
USERS = {
	WEBSITE: ("jobkit.website@example.com", ()),
	DESK: ("jobkit.desk@example.com", ("Desk User",)),
	OWNER: ("jobkit.owner@example.com", ("Desk User",)),
	MANAGER: ("jobkit.manager@example.com", ("System Manager",)),
}
XSS = "<img src=x onerror=alert(1)>"
QUEUE = "short"
MARKER = "jobkit-test-security"
# The queue the matrix pauses and resumes (no test of this module runs jobs on it).
PAUSED_QUEUE = "long"

# Endpoint -> the roles whose call is allowed (HTTP 200); every other role gets 403.
EVERYONE_LOGGED_IN = (WEBSITE, DESK, OWNER, MANAGER)
MATRIX = {
	"GET jobkit.api.get_unique_lock": (MANAGER,),
	"POST jobkit.api.clear_unique_lock": (MANAGER,),
	"POST jobkit.api.retry_failed_jobs": (MANAGER,),
	"POST jobkit.api.discard_failed_jobs": (MANAGER,),
	"POST jobkit.api.cancel_batch": (OWNER, MANAGER),
	"POST jobkit.api.retry_batch_failed_items": (OWNER, MANAGER),
	"GET jobkit.api.get_progress": (OWNER, MANAGER),
	"GET jobkit.api.get_my_jobs": EVERYONE_LOGGED_IN,
	"POST jobkit.api.cancel_job": (OWNER, MANAGER),
	"POST jobkit.api.run_health_check": (MANAGER,),
	"POST jobkit.api.pause_queue": (MANAGER,),  # then resumed by the next row
	"POST jobkit.api.resume_queue": (MANAGER,),
	"GET jobkit.api.health_verdict_card": (MANAGER,),  # and the alert role of Jobkit Settings
	"POST jobkit.api.jobs_card": (MANAGER,),  # and the alert role of Jobkit Settings
	"POST jobkit.api.runs_chart": (MANAGER,),  # and the alert role of Jobkit Settings
	"POST jobkit.api.durations_chart": (MANAGER,),  # and the alert role of Jobkit Settings
	"GET jobkit.api.metrics": (MANAGER,),  # and the alert role of Jobkit Settings
	"GET jobkit.api.jobs_overview": (MANAGER,),  # and the alert role of Jobkit Settings
	"GET jobkit.api.job_stats": (MANAGER,),  # and the alert role of Jobkit Settings
	"GET jobkit.api.search_jobs": (MANAGER,),  # and the alert role of Jobkit Settings
	"POST jobkit.api.stop_job": (MANAGER,),
	"POST jobkit.api.cancel_running_job": (MANAGER,),
	"POST jobkit.api.run_scheduled_job_now": (MANAGER,),
	"POST jobkit.api.cancel_scheduled_job": (MANAGER,),
	"GET jobkit.api.count_failed_jobs": (MANAGER,),
	"POST jobkit.api.bulk_failed_jobs": (MANAGER,),
	"GET Jobkit Batch (a record)": (OWNER, MANAGER),
	"GET Jobkit Failed Job (a record)": (OWNER, MANAGER),
	"GET Job Health Check (list)": (MANAGER,),
	"PUT Jobkit Failed Job (a record)": (),
	"POST Jobkit Batch (new record)": (),
}


class TestSecurity(JobkitTestCase):
	@classmethod
	def setUpClass(cls):
		super().setUpClass()
		cls.keys = {}
		for role, (email, roles) in USERS.items():
			ensure_user(email, role.title(), roles)
			user = frappe.get_doc("User", email)
			secret = frappe.generate_hash(length=15)
			user.api_key = user.api_key or frappe.generate_hash(length=15)
			user.api_secret = secret
			user.save(ignore_permissions=True)
			cls.keys[role] = (user.api_key, secret)
		frappe.db.commit()

	def setUp(self):
		frappe.set_user("Administrator")
		self.started = frappe.utils.now_datetime()

	def tearDown(self):
		"""Cancel the batches made here and take their jobs, and the failed jobs retried here, off
		the queue (no worker runs them), then delete the records."""
		frappe.set_user("Administrator")
		frappe.db.rollback()
		made_here = {"method": "jobkit.tests.jobs.close_todos", "creation": (">=", self.started)}
		batches = frappe.get_all("Jobkit Batch", made_here, pluck="name")
		for name in batches:
			try:
				jobkit.BatchHandle(host, name).cancel()
			except jobkit.BatchNotFound:
				pass
		queue = host.rq_queue(QUEUE)
		for rq_job in queue.jobs:
			envelope = host.envelope_of(rq_job) or {}
			kwargs = envelope.get("kwargs") or {}
			if kwargs.get("batch_id") in batches or kwargs.get("marker") == MARKER:
				queue.remove(rq_job.id)
		frappe.db.delete("Jobkit Batch Failed Item", {"parent": ("in", batches or [""])})
		frappe.db.delete("Jobkit Batch", {"name": ("in", batches or [""])})
		failed = frappe.get_all("Jobkit Failed Job", {"kwargs": ("like", f"%{MARKER}%")}, pluck="name")
		frappe.db.delete("Jobkit Failed Job Attempt", {"parent": ("in", failed or [""])})
		frappe.db.delete("Jobkit Failed Job", {"name": ("in", failed or [""])})
		frappe.db.delete("Job Health Check", {"owner": USERS[MANAGER][0]})
		frappe.db.delete("Jobkit Skipped Run", {"creation": (">=", self.started), "reason": "Cancelled"})
		bulk = host.rq_queue("default")
		for rq_job in bulk.jobs:
			if (host.envelope_of(rq_job) or {}).get("method") == "jobkit.site.jobs_page.run_bulk":
				rq_job.delete()
		frappe.db.commit()

	# Requests and records -----------------------------------------------------------------------

	def call(self, role: str, verb: str, path: str, params: dict | None = None):
		"""One request as ``role``, through Frappe's WSGI application in a thread of its own."""
		headers = {"X-Frappe-Site-Name": frappe.local.site, "Accept": "application/json"}
		if role != GUEST:
			headers["Authorization"] = "token {}:{}".format(*self.keys[role])
		outcome = {}

		def send():
			client = get_test_client(use_cookies=False)
			if verb == "GET":
				query = {k: v if isinstance(v, str) else json.dumps(v) for k, v in (params or {}).items()}
				outcome["response"] = client.get(path, query_string=query, headers=headers)
			else:
				outcome["response"] = client.open(path, method=verb, json=params or {}, headers=headers)

		thread = threading.Thread(target=send)
		thread.start()
		thread.join()
		frappe.db.rollback()  # a fresh snapshot: see what the request committed
		return outcome["response"]

	def batch_of(self, role: str, items=("a", "b")) -> str:
		"""A Queued batch of ``role``'s user (nothing runs it: its chunk jobs are removed at the end)."""
		frappe.set_user(USERS[role][0])
		handle = jobkit.batch(
			"jobkit.tests.jobs.close_todos", items=list(items), queue=QUEUE, chunk_size=10, marker="security"
		)
		frappe.set_user("Administrator")
		frappe.db.commit()
		return handle.id

	def ended_batch_with_a_failed_item(self, role: str) -> str:
		"""A batch of ``role``'s user whose one chunk ended with one of its two items failed (as a worker ends it)."""
		from jobkit.engine import batches
		from jobkit.engine.batches import running

		name = self.batch_of(role, items=("a", "b"))
		spec = batches.state.load_spec(batches.read_state(host, name))
		failure = {"item": "b", "error": f"ValueError: {XSS}", "chunk": 0}
		running.end_segment(host, name, spec, 0, 0, 2, [failure], complete=True)
		frappe.db.commit()
		return name

	def failed_job_of(self, role: str) -> str:
		"""A Jobkit Failed Job of ``role``'s user, whose error message is markup."""
		envelope = Envelope.new(
			job_id=f"security-{uuid4().hex[:8]}",
			method="jobkit.tests.jobs.record",
			kwargs={"marker": MARKER},
			namespace=host.namespace,
			queue=QUEUE,
			timeout=60,
			user=USERS[role][0],
			lease=host.lease_seconds,
		)
		letter = dead_letter.DeadLetter.of(envelope, f"security.{uuid4().hex}", ValueError(XSS), "Traceback")
		return failed_jobs.record(letter)

	def scheduled_job(self) -> str:
		"""A delayed job of this site (taken off its queue at the end if it is run now)."""
		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, delay=3600, marker=MARKER)
		self.addCleanup(lambda: (host.rq_queue(QUEUE).fetch_job(handle.rq_id) or _Gone).delete())
		return handle.rq_id

	def started_job(self, reporting: bool = False) -> str:
		"""A job of this site marked started, as a worker marks it (no worker runs it: RQ's stop
		command finds no work-horse, and a cancel is only noted), reporting progress if asked."""
		from jobkit.engine import progress

		handle = jobkit.enqueue("jobkit.tests.jobs.record", queue=QUEUE, marker=MARKER)
		rq_job = host.rq_queue(QUEUE).fetch_job(handle.rq_id)
		rq_job.set_status("started")
		host.connection.hset(rq_job.key, "worker_name", "jobkit-security-test")
		if reporting:
			state = {"id": rq_job.id, "owner": None, "status": progress.RUNNING, "updated_at": 0}
			state |= {"reference_doctype": None, "reference_name": None}
			progress.keep_and_publish(host, state, 60)
		return rq_job.id

	def bulk_request(self) -> dict:
		"""A bulk discard of a Failed record made for it (its job is taken off the queue at the end)."""
		name = self.failed_job_of(OWNER)
		frappe.db.commit()
		self.assertTrue(name)
		return {"action": "discard", "filters": {"queue": QUEUE, "method": "jobkit.tests.jobs.record"}}

	# What each endpoint is called with, fresh for each allowed call ------------------------------

	def request_for(self, endpoint: str, role: str) -> tuple[str, str, dict | None]:
		verb, _, target = endpoint.partition(" ")
		if target.startswith("jobkit.api."):
			params = {
				"get_unique_lock": lambda: {"job_id": "security-test"},
				"clear_unique_lock": lambda: {"job_id": "security-test"},
				"retry_failed_jobs": lambda: {"names": [self.failed_job_of(OWNER)]},
				"discard_failed_jobs": lambda: {"names": [self.failed_job_of(OWNER)]},
				"cancel_batch": lambda: {"name": self.batch_of(OWNER)},
				"retry_batch_failed_items": lambda: {"name": self.ended_batch_with_a_failed_item(OWNER)},
				"get_progress": lambda: {"rq_id": f"batch:{self.batch_of(OWNER)}"},
				"cancel_job": lambda: {"rq_id": f"batch:{self.batch_of(OWNER)}"},
				"pause_queue": lambda: {"queue": PAUSED_QUEUE},
				"resume_queue": lambda: {"queue": PAUSED_QUEUE},
				"job_stats": lambda: {"period": "6h", "queue": QUEUE},
				"jobs_card": lambda: {"filters": {"figure": "failed"}},
				"search_jobs": lambda: {"text": "jobkit.tests"},
				"stop_job": lambda: {"rq_id": self.started_job()},
				"cancel_running_job": lambda: {"rq_id": self.started_job(reporting=True)},
				"run_scheduled_job_now": lambda: {"rq_id": self.scheduled_job()},
				"cancel_scheduled_job": lambda: {"rq_id": self.scheduled_job()},
				"count_failed_jobs": lambda: {"filters": {"queue": QUEUE}},
				"bulk_failed_jobs": lambda: self.bulk_request(),
			}.get(target.rpartition(".")[2], dict)()
			return verb, f"/api/method/{target}", params
		doctype = target.partition(" (")[0]
		if "(a record)" in target:
			name = self.batch_of(OWNER) if doctype == "Jobkit Batch" else self.failed_job_of(OWNER)
			body = {"method": "frappe.client.delete", "job": "tampered"} if verb == "PUT" else None
			return verb, f"/api/resource/{doctype}/{name}", body
		if verb == "POST":
			return verb, f"/api/resource/{doctype}", {"title": "forged", "method": "frappe.client.delete"}
		return verb, f"/api/resource/{doctype}", None

	# The tests --------------------------------------------------------------------------------------

	def test_every_endpoint_answers_each_role_as_the_matrix_says(self):
		if PAUSED_QUEUE not in jobkit.paused_queues():  # leave the queue as it was, whatever happens
			self.addCleanup(jobkit.resume_queue, PAUSED_QUEUE)
		outcomes = {}
		for endpoint, allowed in MATRIX.items():
			for role in ROLES:
				verb, path, params = self.request_for(endpoint, role)
				response = self.call(role, verb, path, params)
				expected = 200 if role in allowed else 403
				outcomes[(endpoint, role)] = response.status_code
				self.assertEqual(
					response.status_code,
					expected,
					f"{endpoint} as {role}: {response.status_code} {response.get_data(as_text=True)[:300]}",
				)

	def test_owners_see_only_their_own_batches_failed_jobs_and_progress(self):
		mine, theirs = self.batch_of(OWNER), self.batch_of(DESK)
		my_failure, their_failure = self.failed_job_of(OWNER), self.failed_job_of(DESK)
		for doctype, own, other in (
			("Jobkit Batch", mine, theirs),
			("Jobkit Failed Job", my_failure, their_failure),
		):
			listed = self.call(OWNER, "GET", f"/api/resource/{doctype}", {"limit_page_length": 0})
			names = {row["name"] for row in listed.json["data"]}
			self.assertIn(own, names)
			self.assertNotIn(other, names)
			managed = self.call(MANAGER, "GET", f"/api/resource/{doctype}", {"limit_page_length": 0})
			self.assertTrue({own, other} <= {row["name"] for row in managed.json["data"]})
			website = self.call(WEBSITE, "GET", f"/api/resource/{doctype}", {"limit_page_length": 0})
			self.assertFalse({own, other} & {row["name"] for row in website.json["data"]})
		runs = {
			state["id"]
			for state in self.call(OWNER, "GET", "/api/method/jobkit.api.get_my_jobs").json["message"]
		}
		self.assertIn(f"batch:{mine}", runs)
		self.assertNotIn(f"batch:{theirs}", runs)

	def test_a_denied_call_changes_nothing(self):
		batch = self.batch_of(OWNER)
		failure = self.failed_job_of(OWNER)
		for role in (GUEST, WEBSITE, DESK):
			self.call(role, "POST", "/api/method/jobkit.api.cancel_batch", {"name": batch})
			self.call(role, "POST", "/api/method/jobkit.api.cancel_job", {"rq_id": f"batch:{batch}"})
			self.call(role, "POST", "/api/method/jobkit.api.retry_failed_jobs", {"names": [failure]})
			self.call(role, "POST", "/api/method/jobkit.api.discard_failed_jobs", {"names": [failure]})
		self.assertEqual(jobkit.BatchHandle(host, batch).status, "Queued")
		self.assertEqual(frappe.db.get_value("Jobkit Failed Job", failure, "status"), "Failed")
		# POST-only endpoints refuse GET (a link in a page cannot act for a signed-in user).
		response = self.call(OWNER, "GET", "/api/method/jobkit.api.cancel_batch", {"name": batch})
		self.assertEqual(response.status_code, 403)
		self.assertEqual(jobkit.BatchHandle(host, batch).status, "Queued")

	def test_no_endpoint_enqueues_a_dotted_path_from_its_caller(self):
		forged = {"method": "frappe.client.delete", "job": "frappe.client.delete", "func": "os.system"}
		forged["kwargs"] = {"doctype": "User", "name": "Administrator"}
		for endpoint in MATRIX:
			verb, path, params = self.request_for(endpoint, MANAGER)
			self.call(MANAGER, verb, path, {**(params or {}), **forged})
		queued = [job for name in ("short", "default", "long") for job in host.rq_queue(name).jobs]
		self.assertFalse(
			[job.id for job in queued if "frappe.client.delete" in str(job.kwargs) + job.func_name]
		)
		self.assertTrue(frappe.db.exists("User", "Administrator"))
		# And no endpoint takes such a parameter at all.
		for name in dir(api):
			function = getattr(api, name)
			if callable(function) and function in frappe.whitelisted:
				parameters = set(function.__code__.co_varnames[: function.__code__.co_argcount])
				self.assertFalse(parameters & {"method", "func", "job", "path", "kwargs"}, name)

	def test_bad_input_is_refused_with_what_to_pass(self):
		long_name = "x" * 141
		cases = [
			("GET", "get_unique_lock", {"job_id": "x" * 201}, "job_id must be a non-empty text"),
			("POST", "clear_unique_lock", {"job_id": " "}, "job_id must be a non-empty text"),
			("POST", "retry_failed_jobs", {"names": []}, "names must be a list of 1 to 500"),
			("POST", "discard_failed_jobs", {"names": [long_name]}, "names must be a list"),
			# jobkit's own message on v15 and v16 alike, not Frappe's type check (which would also
			# answer before the permission check: see the next test).
			("POST", "retry_failed_jobs", {"names": {"a": 1}}, "names must be a list of 1 to 500"),
			("POST", "clear_unique_lock", {"job_id": ["a", "b"]}, "job_id must be a non-empty text"),
			("POST", "cancel_batch", {"name": long_name}, "name must be the name of a Jobkit Batch"),
			("POST", "retry_batch_failed_items", {"name": ""}, "name must be the name of a Jobkit Batch"),
			("GET", "get_progress", {"rq_id": "x" * 1001}, "give the job run's RQ id"),
			("POST", "cancel_job", {"rq_id": ""}, "give the job run's RQ id"),
			("POST", "pause_queue", {"queue": "nope"}, "unknown queue"),
			("POST", "resume_queue", {"queue": ["long"]}, "unknown queue"),
			("GET", "job_stats", {"period": "3w"}, "period must be one of 1h, 6h, 24h, 72h, 7d"),
			("GET", "job_stats", {"method_name": "x" * 141}, "method_name must be a text of at most 140"),
			("GET", "search_jobs", {"text": " "}, "Type a job id"),
			("POST", "jobs_card", {"filters": "[]"}, "filters must name a figure"),
			("POST", "stop_job", {"rq_id": ""}, "rq_id must be an RQ job id"),
			("POST", "cancel_running_job", {"rq_id": "no-such-job"}, "does not exist"),
			("POST", "run_scheduled_job_now", {"rq_id": ["a"]}, "rq_id must be an RQ job id"),
			("POST", "cancel_scheduled_job", {"rq_id": "no-such-job"}, "does not exist"),
			("GET", "count_failed_jobs", {"filters": {"status": "Failed"}}, "filters must be an object with"),
			("POST", "bulk_failed_jobs", {"action": "delete"}, "action must be one of retry, discard"),
		]
		for verb, method, params, message in cases:
			response = self.call(MANAGER, verb, f"/api/method/jobkit.api.{method}", params)
			self.assertEqual(response.status_code, 417, f"{method}({params}): {response.status_code}")
			self.assertIn(message, response.get_data(as_text=True), method)
		missing = self.call(MANAGER, "POST", "/api/method/jobkit.api.cancel_batch", {"name": "no-such-batch"})
		self.assertEqual(missing.status_code, 404)

	def test_bad_input_from_a_caller_without_permission_is_refused_for_the_permission(self):
		for method, params in (
			("retry_failed_jobs", {"names": {"a": 1}}),
			("discard_failed_jobs", {"names": 5}),
			("clear_unique_lock", {"job_id": ["a"]}),
			("pause_queue", {"queue": "nope"}),
			("bulk_failed_jobs", {"action": 5, "filters": "[1]"}),
			("run_scheduled_job_now", {"rq_id": ["a"]}),
		):
			response = self.call(DESK, "POST", f"/api/method/jobkit.api.{method}", params)
			self.assertEqual(response.status_code, 403, f"{method}({params}): {response.status_code}")

	def test_text_from_jobs_is_stored_escaped_for_the_desk(self):
		# Read-only Data and Small Text fields render their value as HTML in the desk.
		failure = frappe.get_doc("Jobkit Failed Job", self.failed_job_of(OWNER))
		self.assertNotIn("<img", failure.error)
		self.assertIn("&lt;img src=x onerror=alert(1)&gt;", failure.error)
		self.assertNotIn("<img", failure.attempt_errors[0].error)
		batch = frappe.get_doc("Jobkit Batch", self.ended_batch_with_a_failed_item(OWNER))
		self.assertEqual(batch.status, "Completed with errors")
		self.assertNotIn("<img", batch.failed_items[0].error)
		self.assertIn("&lt;img", batch.failed_items[0].error)
