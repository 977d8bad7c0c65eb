// The Jobs page: the site's queues, running and scheduled jobs, failed records, search and stats.
// Live over Frappe's realtime: workers announce that jobs moved (at most every 2 s, see
// jobkit/site/stats.py) and the page reads its figures again then; a slow timer covers a dropped
// socket, and the header says how old the figures are. Every text from a job is escaped.

frappe.pages["jobkit-jobs"].on_page_load = function (wrapper) {
	const page = frappe.ui.make_app_page({ parent: wrapper, title: __("Jobs"), single_column: true });
	wrapper.jobkit_jobs = new JobkitJobsPage(page);
};

frappe.pages["jobkit-jobs"].on_page_show = function (wrapper) {
	wrapper.jobkit_jobs && wrapper.jobkit_jobs.show();
};

frappe.pages["jobkit-jobs"].on_page_hide = function (wrapper) {
	wrapper.jobkit_jobs && wrapper.jobkit_jobs.hide();
};

// frappe.xcall, with the HTTP verb honoured on v15 too (its xcall always POSTs; reads here are GET-only).
const call = (method, args, type = "POST") =>
	new Promise((resolve, reject) =>
		frappe.call({ method, args, type, callback: (r) => resolve(r.message), error: (r) => reject(r) })
	);
// Text a record stores for the desk is HTML-escaped already (see site/text.py): decoded, then escaped once.
const stored = (value) => {
	const decoder = document.createElement("textarea");
	decoder.innerHTML = value === null || value === undefined ? "" : String(value);
	return esc(decoder.value);
};
const esc = (value) => frappe.utils.escape_html(value === null || value === undefined ? "" : String(value));
const MIN_REFRESH_MS = 2000; // no faster than workers announce
const FALLBACK_MS = { connected: 60000, disconnected: 10000 };

class JobkitJobsPage {
	constructor(page) {
		this.page = page;
		this.manager = frappe.user.has_role("System Manager");
		this.range = "1h";
		this.stats_queue = "";
		this.stats_method = "";
		this.last_refresh = 0;
		this.updated_at = null;
		this.$body = $(`<div class="jobkit-jobs"></div>`).appendTo(page.main);
		this.$body.html(`
			<style>
				.jobkit-jobs section { margin-bottom: var(--margin-xl, 24px); }
				.jobkit-jobs h4 { margin: 0 0 var(--margin-sm, 8px); display: flex; gap: 8px; align-items: baseline; }
				.jobkit-jobs h4 small { color: var(--text-muted); font-weight: normal; }
				.jobkit-jobs table { background: var(--card-bg); }
				.jobkit-jobs td, .jobkit-jobs th { vertical-align: middle !important; }
				.jobkit-jobs .empty { color: var(--text-muted); padding: 8px 0; }
				.jobkit-jobs .bar { height: 6px; background: var(--gray-200, #eee); border-radius: 3px; min-width: 80px; }
				.jobkit-jobs .bar > div { height: 6px; border-radius: 3px; background: var(--blue-500, #2490ef); }
				.jobkit-jobs .bar.over > div { background: var(--red-500, #e24c4c); }
				.jobkit-jobs .figures { display: flex; gap: 16px; flex-wrap: wrap; }
				.jobkit-jobs .figure { background: var(--card-bg); border: 1px solid var(--border-color); border-radius: 8px;
					padding: 10px 14px; min-width: 140px; }
				.jobkit-jobs .figure .value { font-size: 1.4em; font-weight: 600; }
				.jobkit-jobs .figure .label { color: var(--text-muted); font-size: 0.85em; }
				.jobkit-jobs .filters { display: flex; gap: 8px; flex-wrap: wrap; align-items: flex-end; }
				.jobkit-jobs .filters .frappe-control { min-width: 160px; margin-bottom: 0; }
				.jobkit-jobs .findings li { margin-bottom: 2px; }
				.jobkit-jobs code { word-break: break-all; }
			</style>
			<section class="headline"></section>
			<section class="queues"></section>
			<section class="limits"></section>
			<section class="running"></section>
			<section class="scheduled"></section>
			<section class="failed"></section>
			<section class="search"></section>
			<section class="stats"></section>
		`);
		this.page.set_indicator(__("Loading"), "gray");
		this.page.set_primary_action(__("Refresh"), () => this.refresh(true), "refresh");
		this.make_failed_section();
		this.make_search_section();
		this.make_stats_section();
		this.on_change = () => this.refresh();
		this.ticker = setInterval(() => this.tick(), 1000);
		this.show();
	}

	show() {
		frappe.realtime.doctype_subscribe("Job Health Check");
		frappe.realtime.off("jobkit_jobs", this.on_change);
		frappe.realtime.on("jobkit_jobs", this.on_change);
		this.visible = true;
		this.refresh(true);
		// A link from elsewhere in the desk (a failed job's "Find the retry") asks for a search.
		const wanted = frappe.route_options && frappe.route_options.search;
		if (wanted) {
			frappe.route_options = null;
			this.search_for(String(wanted));
		}
	}

	hide() {
		this.visible = false;
		frappe.realtime.off("jobkit_jobs", this.on_change);
		frappe.realtime.doctype_unsubscribe && frappe.realtime.doctype_unsubscribe("Job Health Check");
	}

	socket_connected() {
		return !!(frappe.realtime.socket && frappe.realtime.socket.connected);
	}

	tick() {
		if (!this.visible) return;
		const age = this.updated_at ? Math.round((Date.now() - this.updated_at) / 1000) : null;
		const live = this.socket_connected();
		const label = age === null ? __("Loading") : live ? __("Live · updated {0} s ago", [age]) : __("Realtime down · updated {0} s ago", [age]);
		this.page.set_indicator(label, live ? "green" : "orange");
		const wait = live ? FALLBACK_MS.connected : FALLBACK_MS.disconnected;
		if (this.updated_at && Date.now() - this.updated_at > wait) this.refresh();
	}

	refresh(now) {
		if (!this.visible) return;
		const since = Date.now() - this.last_refresh;
		if (!now && since < MIN_REFRESH_MS) {
			if (!this.pending) this.pending = setTimeout(() => ((this.pending = null), this.refresh()), MIN_REFRESH_MS - since);
			return;
		}
		if (this.loading) return;
		this.loading = true;
		this.last_refresh = Date.now();
		Promise.all([
			call("jobkit.api.jobs_overview", {}, "GET"),
			call("jobkit.api.job_stats", { period: this.range, queue: this.stats_queue || null, method_name: this.stats_method || null }, "GET"),
		])
			.then(([overview, stats]) => {
				this.overview = overview;
				this.render_headline(overview, stats);
				this.render_queues(overview.queues);
				this.render_limits(overview.limits || []);
				this.render_running(overview.running);
				this.render_scheduled(overview.scheduled);
				this.render_failed_counts(overview.failed);
				this.render_stats(stats);
				this.updated_at = Date.now();
				this.tick();
			})
			.finally(() => (this.loading = false));
	}

	// Times ---------------------------------------------------------------------------------------

	when(unix) {
		if (!unix) return "";
		const seconds = Math.round(Date.now() / 1000 - unix);
		const text = Math.abs(seconds) < 90 ? __("{0} s", [Math.abs(seconds)]) : Math.abs(seconds) < 5400 ? __("{0} min", [Math.round(Math.abs(seconds) / 60)]) : __("{0} h", [(Math.abs(seconds) / 3600).toFixed(1)]);
		const full = new Date(unix * 1000).toLocaleString();
		return `<span title="${esc(full)}">${seconds >= 0 ? __("{0} ago", [text]) : __("in {0}", [text])}</span>`;
	}

	duration(seconds) {
		if (seconds === null || seconds === undefined) return "—";
		if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
		if (seconds < 120) return `${seconds.toFixed(1)} s`;
		if (seconds < 7200) return `${(seconds / 60).toFixed(1)} min`;
		return `${(seconds / 3600).toFixed(1)} h`;
	}

	table(headers, rows, empty) {
		if (!rows.length) return `<div class="empty">${esc(empty)}</div>`;
		return `<table class="table table-bordered table-sm"><thead><tr>${headers.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>
			<tbody>${rows.map((cells) => `<tr>${cells.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("")}</tbody></table>`;
	}

	action_button(label, action, rq_id, style = "btn-default") {
		return `<button class="btn btn-xs ${style}" data-action="${esc(action)}" data-rq-id="${esc(rq_id)}">${esc(label)}</button>`;
	}

	// Headline and queues --------------------------------------------------------------------------

	render_headline(overview, stats) {
		const colour = { OK: "green", Warning: "orange", Critical: "red" }[overview.verdict] || "gray";
		const running = overview.running.length;
		const waiting = overview.queues.reduce((sum, q) => sum + q.pending, 0);
		const figure = (value, label, route) =>
			`<div class="figure">${route ? `<a href="${esc(route)}">` : ""}<div class="value">${esc(value)}</div><div class="label">${esc(label)}</div>${route ? "</a>" : ""}</div>`;
		const findings = overview.findings.filter((f) => f.severity !== "OK" || f.code === "paused");
		this.$body.find(".headline").html(`
			<h4><span class="indicator-pill ${colour}">${esc(__(overview.verdict))}</span>
				<small>${esc(__("Job health"))} · <a href="/app/job-health-check">${esc(__("health checks"))}</a></small></h4>
			${findings.length ? `<ul class="findings">${findings.map((f) => `<li><span class="indicator ${{ OK: "blue", Warning: "orange", Critical: "red" }[f.severity]}"></span> ${esc(f.message)}</li>`).join("")}</ul>` : ""}
			<div class="figures">
				${figure(waiting, __("waiting"))}
				${figure(running, __("running"))}
				${figure(overview.scheduled.jobs.length, __("scheduled"))}
				${figure(overview.failed.open, __("failed, not yet retried"), "/app/jobkit-failed-job?status=Failed")}
				${figure(stats.total.runs, __("runs, last {0}", [this.range]))}
				${figure(stats.total.failure_rate === null ? "—" : `${(stats.total.failure_rate * 100).toFixed(1)} %`, __("failure rate, last {0}", [this.range]))}
			</div>`);
	}

	sparkline(finished, failed) {
		const width = 120, height = 24, n = finished.length;
		const top = Math.max(1, ...finished.map((v, i) => v + failed[i]));
		const points = (values) => values.map((v, i) => `${((i / Math.max(n - 1, 1)) * width).toFixed(1)},${(height - (v / top) * (height - 2) - 1).toFixed(1)}`).join(" ");
		const total = finished.reduce((a, b) => a + b, 0), bad = failed.reduce((a, b) => a + b, 0);
		return `<svg width="${width}" height="${height}" role="img" aria-label="${esc(__("{0} finished, {1} failed in the last hour", [total, bad]))}">
			<title>${esc(__("{0} finished, {1} failed in the last hour (per minute)", [total, bad]))}</title>
			<polyline fill="none" stroke="var(--blue-500, #2490ef)" stroke-width="1.5" points="${points(finished)}"/>
			<polyline fill="none" stroke="var(--red-500, #e24c4c)" stroke-width="1.5" points="${points(failed)}"/></svg>
			<small class="text-muted">${esc(total)} / <span class="text-danger">${esc(bad)}</span></small>`;
	}

	render_queues(queues) {
		const rows = queues.map((q) => [
			`<b>${esc(q.name)}</b> ${q.paused ? `<span class="indicator-pill orange">${esc(__("Paused"))}</span>` : ""}`,
			esc(q.pending),
			q.oldest_wait_seconds === null ? "—" : esc(this.duration(q.oldest_wait_seconds)),
			`${esc(q.busy)} / ${esc(q.idle)}${q.stale ? ` / <span class="text-danger">${esc(__("{0} stale", [q.stale]))}</span>` : ""}`,
			this.sparkline(q.finished_per_minute, q.failed_per_minute),
			this.manager
				? q.paused
					? this.action_button(__("Resume"), "resume", q.name, "btn-primary")
					: this.action_button(__("Pause"), "pause", q.name)
				: "",
		]);
		this.$body.find(".queues").html(`<h4>${esc(__("Queues"))}</h4>` +
			this.table([__("Queue"), __("Waiting"), __("Oldest wait"), __("Workers busy / idle"), __("Finished / failed per minute, last hour"), ""], rows, __("No queues")));
		this.bind(".queues");
	}

	render_limits(limits) {
		// Jobs over a limit (jobkit.Limit, jobkit.Rate, a fair share) wait here, in no queue.
		const kinds = { c: __("at once"), r: __("rate"), f: __("fair share") };
		const rows = limits.map((l) => [
			`<code>${esc(l.key)}</code> <small class="text-muted">${esc(kinds[l.kind] || l.kind)}</small>`,
			esc(l.description),
			esc(l.held) + (l.starts === null ? "" : ` <small class="text-muted">${esc(__("{0} started in the window", [l.starts]))}</small>`),
			esc(l.waiting),
			l.oldest_wait_seconds === null ? "—" : esc(this.duration(l.oldest_wait_seconds)),
		]);
		this.$body.find(".limits").html(`<h4>${esc(__("Limits"))} <small>${esc(__("keys with jobs running or waiting at a limit"))}</small></h4>` +
			this.table([__("Key"), __("Limit"), __("Running or let in"), __("Waiting"), __("Oldest wait")], rows, __("No job waits at a limit")));
	}

	// Running and scheduled -----------------------------------------------------------------------

	render_running(jobs) {
		const now = Date.now() / 1000;
		const rows = jobs.map((job) => {
			const elapsed = job.started_at ? now - job.started_at : 0;
			const share = job.timeout > 0 ? Math.min(elapsed / job.timeout, 1) : 0;
			const progress = job.progress;
			const percent = progress && progress.percent !== null && progress.percent !== undefined ? progress.percent : null;
			return [
				`<code>${esc(job.method)}</code>${job.job_id ? `<br><small class="text-muted">${esc(job.job_id)}</small>` : ""}`,
				esc(job.user),
				esc(job.queue),
				this.when(job.started_at),
				`<div class="bar ${share >= 1 ? "over" : ""}" title="${esc(__("{0} of a {1} timeout", [this.duration(elapsed), this.duration(job.timeout)]))}"><div style="width:${(share * 100).toFixed(0)}%"></div></div>
				<small>${esc(this.duration(elapsed))} / ${esc(this.duration(job.timeout))}</small>`,
				percent === null ? (progress ? esc(progress.done) : "—") :
					`<div class="bar"><div style="width:${Number(percent).toFixed(0)}%"></div></div><small>${esc(progress.done)}${progress.total ? ` / ${esc(progress.total)}` : ""} · ${esc(Number(percent).toFixed(0))} %${progress.stage ? ` · ${esc(progress.stage)}` : ""}</small>`,
				this.manager
					? (progress && progress.status === "running" ? this.action_button(__("Cancel"), "cancel", job.rq_id) + " " : "") +
						this.action_button(__("Stop"), "stop", job.rq_id, "btn-danger")
					: "",
			];
		});
		this.$body.find(".running").html(`<h4>${esc(__("Running"))} <small>${esc(jobs.length)}</small></h4>` +
			this.table([__("Method"), __("User"), __("Queue"), __("Started"), __("Elapsed / timeout"), __("Progress"), ""], rows, __("No job is running")));
		this.bind(".running");
	}

	render_scheduled(scheduled) {
		const rows = scheduled.jobs.map((job) => [
			`<code>${esc(job.method)}</code>${job.job_id ? `<br><small class="text-muted">${esc(job.job_id)}</small>` : ""}`,
			esc(job.queue),
			this.when(job.due_at),
			job.attempt > 1 ? esc(__("retry, attempt {0}", [job.attempt])) : esc(__("delayed")),
			esc(job.user),
			this.manager ? this.action_button(__("Run now"), "run_now", job.rq_id) + " " + this.action_button(__("Cancel"), "cancel_scheduled", job.rq_id, "btn-danger") : "",
		]);
		const bench = Object.values(scheduled.on_bench).reduce((a, b) => a + b, 0);
		this.$body.find(".scheduled").html(`<h4>${esc(__("Scheduled"))} <small>${esc(__("delayed jobs and retries waiting, soonest first; {0} on the bench, all sites", [bench]))}</small></h4>` +
			this.table([__("Method"), __("Queue"), __("Due"), __("Kind"), __("User"), ""], rows, __("Nothing is scheduled")));
		this.bind(".scheduled");
	}

	bind(selector) {
		this.$body.find(`${selector} [data-action]`).on("click", (event) => {
			const $button = $(event.currentTarget);
			this.act($button.attr("data-action"), $button.attr("data-rq-id"));
		});
	}

	act(action, target) {
		const calls = {
			pause: ["jobkit.api.pause_queue", { queue: target }, __("Pause queue {0}? jobkit's workers start none of its jobs until it is resumed; running jobs finish. The queue is every site's on this bench.", [target])],
			resume: ["jobkit.api.resume_queue", { queue: target }, null],
			stop: ["jobkit.api.stop_job", { rq_id: target }, __("Stop {0} now? Its work-horse is killed and the job fails.", [target])],
			cancel: ["jobkit.api.cancel_running_job", { rq_id: target }, __("Ask {0} to stop at its next progress check?", [target])],
			run_now: ["jobkit.api.run_scheduled_job_now", { rq_id: target }, null],
			cancel_scheduled: ["jobkit.api.cancel_scheduled_job", { rq_id: target }, __("Cancel {0}? It will not run; a Jobkit Skipped Run records it.", [target])],
		};
		const [method, args, question] = calls[action];
		const go = () =>
			call(method, args).then((outcome) => {
				frappe.show_alert({ message: esc(outcome.message), indicator: "green" });
				this.refresh(true);
			});
		question ? frappe.confirm(esc(question), go) : go();
	}

	// Failed: bulk actions on all matching ---------------------------------------------------------

	make_failed_section() {
		const $section = this.$body.find(".failed");
		$section.html(`<h4>${esc(__("Failed"))} <small class="failed-counts"></small></h4>
			<div class="filters"></div><div class="failed-outcome text-muted" style="margin-top:8px"></div>`);
		const $filters = $section.find(".filters");
		const make = (df) => frappe.ui.form.make_control({ df: { ...df, input_class: "input-xs" }, parent: $filters, render_input: true });
		this.failed_controls = {
			method: make({ fieldtype: "Data", fieldname: "method", placeholder: __("Method") }),
			error_type: make({ fieldtype: "Data", fieldname: "error_type", placeholder: __("Error type, e.g. ValueError") }),
			queue: make({ fieldtype: "Data", fieldname: "queue", placeholder: __("Queue") }),
			from_date: make({ fieldtype: "Date", fieldname: "from_date", placeholder: __("Failed from") }),
			to_date: make({ fieldtype: "Date", fieldname: "to_date", placeholder: __("Failed up to") }),
		};
		const $buttons = $(`<div>
			<button class="btn btn-xs btn-default" data-bulk="count">${esc(__("Count matching"))}</button>
			${this.manager ? `<button class="btn btn-xs btn-primary" data-bulk="retry">${esc(__("Retry all matching"))}</button>
			<button class="btn btn-xs btn-danger" data-bulk="discard">${esc(__("Discard all matching"))}</button>` : ""}
			<a class="btn btn-xs btn-link" href="/app/jobkit-failed-job?status=Failed">${esc(__("Open the list"))}</a></div>`).appendTo($filters);
		$buttons.find("[data-bulk]").on("click", (event) => this.bulk($(event.currentTarget).attr("data-bulk")));
	}

	failed_filters() {
		const filters = {};
		for (const [name, control] of Object.entries(this.failed_controls)) {
			const value = control.get_value();
			if (value) filters[name] = value;
		}
		return filters;
	}

	render_failed_counts(failed) {
		this.$body.find(".failed-counts").text(__("{0} not yet retried · {1} in the last 24 hours", [failed.open, failed.last_24h]));
	}

	bulk(action) {
		const filters = this.failed_filters();
		const $outcome = this.$body.find(".failed-outcome");
		call("jobkit.api.count_failed_jobs", { filters: JSON.stringify(filters) }, "GET").then(({ count }) => {
			if (action === "count" || !count) {
				$outcome.text(__("{0} Failed record(s) match", [count]));
				return;
			}
			const question = action === "retry" ? __("Retry all {0} matching failed jobs? Each is enqueued again as a new first attempt.", [count]) : __("Discard all {0} matching failed jobs? They will not be run again.", [count]);
			frappe.confirm(esc(question), () =>
				call("jobkit.api.bulk_failed_jobs", { action, filters: JSON.stringify(filters) }).then((started) => {
					$outcome.html(esc(__("Working through {0} record(s) in the background ({1}); the tray shows its progress.", [started.count, started.rq_id])));
					this.follow_bulk(started.rq_id, $outcome);
				})
			);
		});
	}

	follow_bulk(rq_id, $outcome) {
		const poll = () =>
			call("jobkit.api.get_progress", { rq_id }, "GET").then((state) => {
				if (state) $outcome.text(__("{0}: {1} of {2} record(s)", [__(state.status), state.done, state.total]));
				if (!state || state.status === "running") setTimeout(poll, 2000);
				else this.refresh(true);
			});
		poll();
	}

	// Search ---------------------------------------------------------------------------------------

	make_search_section() {
		const $section = this.$body.find(".search");
		$section.html(`<h4>${esc(__("Search"))} <small>${esc(__("a job id or RQ job id (exact, any state), or a part of a method's name"))}</small></h4>
			<div class="filters"><input type="search" class="form-control input-xs" style="max-width:420px" placeholder="${esc(__("e.g. Sales Invoice::SINV-0001::submit, or erpnext.accounts"))}">
			<button class="btn btn-xs btn-default">${esc(__("Search"))}</button></div><div class="results" style="margin-top:8px"></div>`);
		const $input = $section.find("input");
		const run = () => this.search_for($input.val().trim());
		$section.find("button").on("click", run);
		$input.on("keydown", (event) => event.key === "Enter" && run());
	}

	search_for(text) {
		if (!text) return;
		const $section = this.$body.find(".search");
		$section.find("input").val(text);
		call("jobkit.api.search_jobs", { text }, "GET").then((found) => {
			this.render_search(found);
			$section[0].scrollIntoView({ behavior: "smooth" });
		});
	}

	render_search(found) {
		const job_rows = (jobs) => jobs.map((job) => [`<code>${esc(job.rq_id)}</code>`, `<code>${esc(job.method)}</code>`, esc(job.queue), esc(__(job.status || "")), this.when(job.ended_at || job.started_at || job.enqueued_at), esc(job.error)]);
		const headers = [__("RQ job"), __("Method"), __("Queue"), __("Status"), __("When"), __("Error")];
		const records = found.failed.map((r) => [`<a href="/app/jobkit-failed-job/${encodeURIComponent(r.name)}">${esc(r.name)}</a>`, `<code>${esc(r.method)}</code>`, esc(r.queue), esc(__(r.status)), stored(r.error)]);
		const skipped = found.skipped.map((r) => [`<a href="/app/jobkit-skipped-run/${encodeURIComponent(r.name)}">${esc(r.name)}</a>`, `<code>${esc(r.method)}</code>`, esc(r.queue), esc(__(r.reason))]);
		const nothing = !found.jobs.length && !found.runs.length && !records.length && !skipped.length;
		this.$body.find(".search .results").html(nothing ? `<div class="empty">${esc(__("Nothing found for {0}: no job by that id (finished jobs expire after their result TTL) and no method by that name ran in the last 72 hours", [found.text]))}</div>` :
			(found.jobs.length ? `<h5>${esc(__("Jobs with this id"))}</h5>` + this.table(headers, job_rows(found.jobs), "") : "") +
			(found.methods.length ? `<h5>${esc(__("Latest runs of {0}", [found.methods.slice(0, 5).join(", ")]))}</h5>` + this.table(headers, job_rows(found.runs), __("No run is still kept")) : "") +
			(records.length ? `<h5>${esc(__("Failed job records"))}</h5>` + this.table([__("Record"), __("Method"), __("Queue"), __("Status"), __("Error")], records, "") : "") +
			(skipped.length ? `<h5>${esc(__("Skipped runs"))}</h5>` + this.table([__("Record"), __("Method"), __("Queue"), __("Reason")], skipped, "") : ""));
	}

	// Stats ----------------------------------------------------------------------------------------

	make_stats_section() {
		const $section = this.$body.find(".stats");
		$section.html(`<h4>${esc(__("Metrics"))} <small class="stats-scope"></small></h4>
			<div class="filters">
				<select class="form-control input-xs range" style="max-width:160px">
					${["1h", "6h", "24h", "72h", "7d"].map((r) => `<option value="${r}">${esc(__("Last {0}", [r]))}</option>`).join("")}
				</select>
				<select class="form-control input-xs queue" style="max-width:160px"><option value="">${esc(__("All queues"))}</option></select>
				<button class="btn btn-xs btn-default clear-method" style="display:none"></button>
			</div>
			<div class="row">
				<div class="col-md-4"><div class="chart-throughput"></div></div>
				<div class="col-md-4"><div class="chart-failures"></div></div>
				<div class="col-md-4"><div class="chart-p95"></div></div>
			</div>
			<h5>${esc(__("Top methods by total time"))}</h5><div class="top-methods"></div>`);
		$section.find(".range").on("change", (event) => ((this.range = event.target.value), this.refresh(true)));
		$section.find(".queue").on("change", (event) => ((this.stats_queue = event.target.value), this.refresh(true)));
		$section.find(".clear-method").on("click", () => ((this.stats_method = ""), this.refresh(true)));
	}

	label(iso, resolution) {
		const at = moment.utc(iso);
		const zone = frappe.boot.time_zone && (frappe.boot.time_zone.user || frappe.boot.time_zone.system);
		const local = zone && at.tz ? at.tz(zone) : at.local();
		return local.format(resolution === "minute" ? "HH:mm" : "DD MMM HH:mm");
	}

	render_stats(stats) {
		const $section = this.$body.find(".stats");
		const $queue = $section.find(".queue");
		const queues = (this.overview ? this.overview.queues.map((q) => q.name) : []);
		if ($queue.find("option").length !== queues.length + 1) {
			$queue.html(`<option value="">${esc(__("All queues"))}</option>` + queues.map((q) => `<option value="${esc(q)}">${esc(q)}</option>`).join(""));
		}
		$queue.val(this.stats_queue);
		$section.find(".clear-method").toggle(!!this.stats_method).text(__("Method: {0} ×", [this.stats_method]));
		$section.find(".stats-scope").text(__("by {0}, from {1}", [__(stats.resolution), this.label(stats.since, "hour")]));
		const labels = stats.series.map((point) => this.label(point.at, stats.resolution));
		const chart = (selector, title, datasets, type, colors) => {
			const $target = $section.find(selector);
			$target.empty();
			new frappe.Chart($target[0], {
				title, type, height: 200, colors,
				data: { labels, datasets },
				axisOptions: { xIsSeries: 1, xAxisMode: "tick", shortenYAxisNumbers: 1 },
				lineOptions: { hideDots: 1, regionFill: 1 },
			});
		};
		chart(".chart-throughput", __("Runs"), [
			{ name: __("Finished"), values: stats.series.map((p) => p.runs - p.failures) },
			{ name: __("Failed"), values: stats.series.map((p) => p.failures) },
		], "line", ["#2490ef", "#e24c4c"]);
		chart(".chart-failures", __("Failure rate (%)"), [{ name: __("Failure rate"), values: stats.series.map((p) => (p.failure_rate === null ? 0 : +(p.failure_rate * 100).toFixed(1))) }], "line", ["#e24c4c"]);
		chart(".chart-p95", __("95th percentile duration (ms)"), [{ name: __("p95"), values: stats.series.map((p) => p.p95_ms || 0) }], "line", ["#7c5cd6"]);
		const rows = stats.methods.slice(0, 20).map((row) => [
			`<a href="#" data-method="${esc(row.method)}"><code>${esc(row.method)}</code></a>`,
			esc(row.queue),
			esc(row.runs),
			row.failures ? `<span class="text-danger">${esc(row.failures)}</span>` : "0",
			esc(this.duration(row.total_seconds)),
			esc(row.p50_ms === null ? "—" : this.duration(row.p50_ms / 1000)),
			esc(row.p95_ms === null ? "—" : this.duration(row.p95_ms / 1000)),
			esc(row.mean_wait_ms === null ? "—" : this.duration(row.mean_wait_ms / 1000)),
		]);
		$section.find(".top-methods").html(this.table([__("Method"), __("Queue"), __("Runs"), __("Failed"), __("Total time"), __("Median"), __("95th percentile"), __("Mean wait")], rows, __("No job ran in this range")));
		$section.find("[data-method]").on("click", (event) => {
			event.preventDefault();
			this.stats_method = $(event.currentTarget).attr("data-method");
			this.refresh(true);
		});
	}
}
