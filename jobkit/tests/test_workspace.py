"""The Jobkit workspace: every block it shows exists, its cards and charts read live figures (from
a site's first job on), and the verdict card escapes what findings name."""

import json
from datetime import datetime, timezone

import frappe

import jobkit
from jobkit import api
from jobkit.engine import stats
from jobkit.engine.findings import CRITICAL, Finding
from jobkit.site import health as site_health
from jobkit.site import workspace
from jobkit.site.host import host
from jobkit.tests.utils import JobkitTestCase

XSS = "<img src=x onerror=alert(1)>"
WORKSPACE = "Jobkit"


class TestWorkspace(JobkitTestCase):
	def setUp(self):
		frappe.set_user("Administrator")

	def test_every_block_names_a_card_chart_or_shortcut_that_exists(self):
		doc = frappe.get_doc("Workspace", WORKSPACE)
		rows = {
			"number_card": {row.label: row.number_card_name for row in doc.number_cards},
			"chart": {row.label: row.chart_name for row in doc.charts},
			"shortcut": {row.label: row for row in doc.shortcuts},
			"card": {row.label for row in doc.links if row.type == "Card Break"},
		}
		blocks = json.loads(doc.content)
		self.assertTrue({"number_card", "chart", "shortcut", "card"} <= {b["type"] for b in blocks})
		for block in blocks:
			data = block["data"]
			if block["type"] == "number_card":
				self.assertTrue(
					frappe.db.exists("Number Card", rows["number_card"][data["number_card_name"]])
				)
			elif block["type"] == "chart":
				self.assertTrue(frappe.db.exists("Dashboard Chart", rows["chart"][data["chart_name"]]))
			elif block["type"] == "shortcut":
				shortcut = rows["shortcut"][data["shortcut_name"]]
				self.assertTrue(frappe.db.exists(shortcut.type, shortcut.link_to), shortcut.link_to)
			elif block["type"] == "card":
				self.assertIn(data["card_name"], rows["card"])
		for row in doc.links:
			if row.type == "Link":
				self.assertTrue(frappe.db.exists("DocType", row.link_to), row.link_to)

	def test_the_cards_read_live_figures(self):
		queue = host.rq_queue("long")
		before = api.jobs_card(json.dumps({"figure": "waiting"}))
		self.assertEqual((before["fieldtype"], before["route"]), ("Int", ["jobkit-jobs"]))
		handles = [
			jobkit.enqueue("jobkit.tests.jobs.record", queue="long", marker="jobkit-test-card")
			for _ in range(2)
		]
		try:
			self.assertEqual(api.jobs_card({"figure": "waiting"})["value"], before["value"] + 2)
		finally:
			for handle in handles:
				queue.fetch_job(handle.rq_id).delete()
		failed = api.jobs_card({"figure": "failed"})
		self.assertEqual(failed["value"], frappe.db.count("Jobkit Failed Job", {"status": "Failed"}))
		self.assertEqual(failed["route_options"], {"status": "Failed"})
		for figure in ("running", "runs_last_hour"):
			self.assertIsInstance(api.jobs_card({"figure": figure})["value"], int)
		with self.assertRaisesRegex(frappe.ValidationError, "filters must name a figure: one of waiting"):
			api.jobs_card({"figure": "everything"})

	def test_the_charts_show_this_hour_by_queue(self):
		before = api.runs_chart()
		self.assertEqual(len(before["labels"]), workspace.CHART_HOURS)
		self.assertEqual([d["name"] for d in before["datasets"]], list(host.queue_timeouts()))
		method = "jobkit.tests.workspace_chart"
		connection, site = host.connection, frappe.local.site
		stats.record(connection, site, "long", method, 4000, 0, False)
		try:
			after = api.runs_chart()
			long_runs = {d["name"]: d["values"] for d in after["datasets"]}["long"]
			previous = {d["name"]: d["values"] for d in before["datasets"]}["long"]
			self.assertEqual(long_runs[-1], previous[-1] + 1)
			p95 = {d["name"]: d["values"] for d in api.durations_chart()["datasets"]}["long"]
			self.assertGreater(p95[-1], 0)
		finally:
			hour = stats.truncate(datetime.now(timezone.utc), stats.HOUR)
			from jobkit.engine import keys

			minute = stats.truncate(datetime.now(timezone.utc), stats.MINUTE)
			for key in (
				keys.stats_totals(site),
				keys.stats(site, stats.HOUR, f"{hour:%Y%m%d%H}"),
				keys.stats(site, stats.MINUTE, f"{minute:%Y%m%d%H%M}"),
			):
				for field in [f for f in connection.hkeys(key) if method in f.decode()]:
					connection.hdel(key, field)
			connection.zrem(keys.stats_methods(site), method)

	def test_the_verdict_card_shows_the_worst_finding_escaped_and_links_to_the_page(self):
		report = site_health.check()
		report.findings = []  # this site's own findings aside: the one below is the worst
		report.add([Finding(CRITICAL, "test", f"the job {XSS} is stuck")])
		html = workspace.verdict_html(report)
		self.assertNotIn("<img", html)
		self.assertIn("&lt;img src=x onerror=alert(1)&gt;", html)
		self.assertIn('class="indicator-pill red"', html)
		self.assertIn('href="/app/jobkit-jobs"', html)
		self.assertIn("indicator-pill", api.health_verdict_card())
