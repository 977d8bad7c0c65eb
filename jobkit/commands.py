"""Bench commands: `bench --site SITE jobkit <command>`."""

from contextlib import contextmanager

import click
from frappe.commands import get_site, pass_context
from frappe.commands.scheduler import start_worker as frappe_worker_command

EXIT_REFUSED = 1


@click.group("jobkit")
def jobkit_commands():
	"""jobkit: background job tools."""


@contextmanager
def connected_site(context):
	"""The command's site, connected as Administrator for the block, and closed after it."""
	import frappe

	site = get_site(context)
	frappe.init(site=site)
	frappe.connect()
	try:
		yield site
	finally:
		frappe.destroy()


@jobkit_commands.command("unlock")
@click.argument("job_id")
@click.option("--force", is_flag=True, help="Release the key even if its job is still queued or running.")
@pass_context
def unlock(context, job_id: str, force: bool = False):
	"""Show and release the unique key of JOB_ID (the job_id given to jobkit.enqueue)."""
	from jobkit.engine import unique

	with connected_site(context) as site:
		from jobkit.site.host import host

		held = unique.lock_info(host.connection, host.namespace, job_id)
		if not held:
			click.echo(f"{job_id}: no unique key is held on {site}")
			return
		for entry in held:
			state = "stale" if entry["stale"] else "live"
			click.echo(
				f"{job_id}: {entry['kind']} key held by {entry['holder']} "
				f"({entry['holder_status']}, {state}), {entry['ttl_seconds']:.0f} s left"
			)
		if any(not entry["stale"] for entry in held) and not force:
			click.secho(
				"Its job is still queued or running: releasing the key lets a second copy start. "
				"Re-run with --force to release it anyway.",
				fg="yellow",
			)
			raise SystemExit(EXIT_REFUSED)
		released = unique.unlock(host.connection, host.namespace, job_id)
		click.secho(f"{job_id}: released ({', '.join(released) or 'nothing left to release'})", fg="green")


@jobkit_commands.command("pause")
@click.argument("queue")
@pass_context
def pause(context, queue: str):
	"""Pause QUEUE: jobkit's workers start none of its jobs until `bench jobkit resume QUEUE`
	(enqueues go on, running jobs finish; the queue is the bench's, so every site's jobs wait)."""
	import jobkit

	with connected_site(context):
		try:
			unaware = jobkit.pause_queue(queue)
		except jobkit.UnknownQueue as e:
			raise click.BadParameter(str(e), param_hint="QUEUE") from e
	click.secho(f"{queue}: paused", fg="green")
	if unaware:
		click.secho(
			f"These workers on {queue} do not honour the pause and go on starting its jobs (run "
			f"`bench jobkit-worker` instead): {', '.join(unaware)}",
			fg="yellow",
		)


@jobkit_commands.command("resume")
@click.argument("queue")
@pass_context
def resume(context, queue: str):
	"""Resume QUEUE, paused with `bench jobkit pause`."""
	import jobkit

	with connected_site(context):
		try:
			jobkit.resume_queue(queue)
		except jobkit.UnknownQueue as e:
			raise click.BadParameter(str(e), param_hint="QUEUE") from e
	click.secho(f"{queue}: resumed", fg="green")


@jobkit_commands.command("retry")
@click.argument("names", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Every Jobkit Failed Job record still Failed.")
@pass_context
def retry(context, names: tuple[str, ...], all_failed: bool = False):
	"""Enqueue again the stored job of Jobkit Failed Job records NAMES (exit 1 if any is refused)."""
	from jobkit.site import actions

	with connected_site(context):
		_act_on_failed_jobs(names, all_failed, "retried", actions.retry_failed_job_as_rq_id)


@jobkit_commands.command("discard")
@click.argument("names", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Every Jobkit Failed Job record still Failed.")
@pass_context
def discard(context, names: tuple[str, ...], all_failed: bool = False):
	"""Mark Jobkit Failed Job records NAMES Discarded (exit 1 if any is refused)."""
	from jobkit.site import actions

	with connected_site(context):
		_act_on_failed_jobs(names, all_failed, "discarded", actions.discard_failed_job)


def _act_on_failed_jobs(names, all_failed: bool, done: str, action) -> None:
	import frappe

	from jobkit.site import actions
	from jobkit.site.records import failed_jobs

	if bool(names) == all_failed:
		raise click.UsageError("give the names of Jobkit Failed Job records, or --all-failed (not both)")
	if all_failed:
		names = frappe.get_all(failed_jobs.DOCTYPE, filters={"status": failed_jobs.FAILED}, pluck="name")
	results, refused = actions.for_each(names, action)
	for name, result in results.items():
		click.echo(f"{name}: {done}" + (f" as {result}" if result else ""))
	for name, reason in refused.items():
		click.secho(f"{name}: not {done}: {reason}", fg="yellow")
	click.echo(f"{len(results)} {done}, {len(refused)} refused")
	if refused:
		raise SystemExit(EXIT_REFUSED)


@jobkit_commands.command("check")
@click.option(
	"--app", "apps", multiple=True, help="Check this app's hooks (repeatable; default: installed apps)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def check(context, apps: tuple[str, ...] = (), as_json: bool = False):
	"""Check every scheduler_events entry; exit 1 if any has an error (for CI of dependent apps)."""
	import json

	from jobkit.engine.findings import CRITICAL
	from jobkit.site import hooks_check

	with connected_site(context):
		reports = hooks_check.check_hooks(list(apps) or None)
	if as_json:
		click.echo(json.dumps([hooks_check.as_dict(report) for report in reports], indent=1))
	else:
		for report in reports:
			mark, colour = ("✓", "green") if report.ok else ("✗", "red")
			if report.ok and report.findings:
				mark, colour = "!", "yellow"
			runs = ", ".join(run.strftime("%Y-%m-%d %H:%M %Z") for run in report.next_runs)
			target = f"{report.queue} ({report.timeout} s)" + (
				", handed off by @jobkit.job" if report.handed_off else ""
			)
			click.secho(
				f"{mark} {report.app} {report.event} [{report.cron}] {report.method} -> {target}", fg=colour
			)
			if runs:
				click.echo(f"    next: {runs}")
			for finding in report.findings:
				click.secho(
					f"    {finding.severity} {finding.check}: {finding.message}",
					fg="red" if finding.severity == CRITICAL else "yellow",
				)
	errors = sum(not report.ok for report in reports)
	warnings = sum(1 for report in reports for finding in report.findings if finding.severity != CRITICAL)
	if not as_json:
		click.echo(f"{len(reports)} entries: {errors} with errors, {warnings} warnings")
	if errors:
		raise SystemExit(EXIT_REFUSED)


@jobkit_commands.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_context
def doctor(context, as_json: bool = False):
	"""Job health of the site: queues, workers, Redis, scheduler. Exit 0 OK, 1 Warning, 2 Critical."""
	import json

	from jobkit.site import health as site_health

	with connected_site(context) as site:
		report = site_health.check()
	if as_json:
		click.echo(json.dumps(report.as_dict(), indent=1, default=str))
		raise SystemExit(site_health.exit_code(report))
	colours = {"OK": "green", "Warning": "yellow", "Critical": "red"}
	click.secho(f"{site}: {report.verdict}", fg=colours[report.verdict], bold=True)
	for queue in report.queues:
		wait = "-" if queue.oldest_wait_seconds is None else f"{queue.oldest_wait_seconds:.0f} s"
		click.echo(
			f"  {queue.name:10} pending {queue.pending:>6}  oldest wait {wait:>8}  workers {queue.workers}"
			f" (busy {queue.busy}, idle {queue.idle}, stale {queue.stale})  stuck {queue.stuck}"
			f"  failed/h {queue.failed_last_hour}{'  PAUSED' if queue.paused else ''}"
		)
	for limit in report.limits:
		wait = "-" if limit.oldest_wait_seconds is None else f"{limit.oldest_wait_seconds:.0f} s"
		starts = "" if limit.starts is None else f"  started in window {limit.starts}"
		click.echo(
			f"  limit      {limit.description}: taken {limit.held}{starts}  waiting {limit.waiting}"
			f"  oldest wait {wait}"
		)
	redis = report.redis
	click.echo(
		f"  redis      round trip {redis.round_trip_ms} ms  memory {redis.used_memory:,} B"
		f"  policy {redis.eviction_policy}"
	)
	for finding in report.findings:
		click.secho(
			f"  {finding.severity:8} {finding.check}: {finding.message}", fg=colours[finding.severity]
		)
	raise SystemExit(site_health.exit_code(report))


@click.command("jobkit-scheduler")
@click.option("--interval", type=float, default=1.0, show_default=True, help="Seconds between passes.")
@click.option("--once", is_flag=True, help="Make one pass and exit.")
def jobkit_scheduler(interval: float = 1.0, once: bool = False):
	"""Move due delayed jobs onto the bench's queues about once a second (Procfile: `jobkit: bench jobkit-scheduler`)."""
	import frappe
	from frappe.utils.background_jobs import get_queue_list, get_redis_conn
	from rq import Queue

	from jobkit.engine import delayed, promoter

	if not interval > 0:
		raise click.BadParameter("must be more than 0 seconds", param_hint="--interval")
	# The queues are the bench's, not a site's: read them the way `bench worker` does.
	with frappe.init_site():
		connection = get_redis_conn()
		queues = [Queue(name, connection=connection) for name in get_queue_list(build_queue_name=True)]
	if once:
		click.echo(f"{delayed.promote_due(connection, queues)} due job(s) queued")
		return
	click.echo(
		f"jobkit scheduler: promoting due jobs on {', '.join(q.name for q in queues)} every {interval:g}s"
	)
	promoter.run(connection, queues, interval, promoter.stop_on_signals())


def _start_jobkit_worker(**options):
	from jobkit.site import worker

	worker.become(options)


# `bench worker`'s own options (Frappe's command's parameters, whatever its version declares).
jobkit_worker = click.Command(
	"jobkit-worker",
	params=frappe_worker_command.params,
	callback=_start_jobkit_worker,
	help="`bench worker`, running jobkit's worker class: no job lost between its pop and its start, "
	"lost runs renewed and reaped (Procfile: `worker: bench jobkit-worker`).",
)


commands = [jobkit_commands, jobkit_scheduler, jobkit_worker]
