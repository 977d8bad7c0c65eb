// The "Background jobs" tray in the desk navbar: the current user's running and recent jobs and
// batches, with progress, stage, ETA and Cancel, and their jobs that failed for good lately. Its state comes from the server on page load
// (jobkit.api.get_my_jobs), so a reload shows it; realtime "jobkit_progress" messages (sent only
// to the job owner's room, or the reference document's) keep it moving. Text from jobs is escaped.
frappe.provide("jobkit.tray");

jobkit.tray = {
	jobs: {}, // state by run id
	cancelling: {}, // run ids whose cancel was asked for, until they end
	max_shown: 10,
	loaded_at: null, // when the server's state was last read (page load, or the polling fallback)
	heard_at: null, // when a realtime message last came
	// Without realtime (socket down), the tray reads the server's state this often while a job runs.
	poll_ms: 10000,

	setup() {
		if (this.$item || !frappe.session || frappe.session.user === "Guest") return;
		const $nav = $(".navbar .navbar-nav").last();
		if (!$nav.length) return;
		this.$item = $(`
			<li class="nav-item dropdown dropdown-mobile jobkit-tray">
				<button class="btn-reset nav-link text-muted" data-toggle="dropdown" aria-haspopup="true"
					aria-expanded="false" title="${__("Background jobs")}">
					<svg class="es-icon icon-sm"><use href="#es-line-zap"></use></svg>
					<span class="jobkit-tray-count badge badge-pill hidden"></span>
				</button>
				<div class="dropdown-menu dropdown-menu-right jobkit-tray-menu" role="menu">
					<div class="jobkit-tray-header">${__("Background jobs")}
						<span class="jobkit-tray-age text-muted small"></span>
						<a class="jobkit-tray-clear small hidden" href="#">${__("Clear finished")}</a></div>
					<div class="jobkit-tray-list"></div>
					<div class="jobkit-tray-footer small">
						<a href="/app/jobkit-failed-job?user=${encodeURIComponent(frappe.session.user)}">${__("Your failed jobs")}</a> ·
						<a href="/app/jobkit-batch?user=${encodeURIComponent(frappe.session.user)}">${__("Your batches")}</a>
					</div>
				</div>
			</li>`);
		this.add_style();
		this.$item.find(".dropdown-menu").on("click", (e) => e.stopPropagation()); // stay open on Cancel
		$nav.prepend(this.$item);
		this.$list = this.$item.find(".jobkit-tray-list");
		this.$list.on("click", ".jobkit-tray-cancel", (e) => this.confirm_cancel($(e.currentTarget).attr("data-id")));
		this.$item.find(".jobkit-tray-clear").on("click", (e) => (e.preventDefault(), this.clear_finished()));
		this.ticker = setInterval(() => this.tick(), 1000);
		frappe.realtime.off("jobkit_progress");
		frappe.realtime.on("jobkit_progress", (state) => ((this.heard_at = Date.now()), this.update(state, true)));
		// A change of the site's job health verdict (sent to System Managers only).
		frappe.realtime.off("jobkit_health");
		frappe.realtime.on("jobkit_health", (alert) => {
			const link = `/app/job-health-check/${encodeURIComponent(alert.name)}`;
			const message = `<a href="${link}">${frappe.utils.escape_html(alert.subject)}</a>`;
			frappe.show_alert({ message, indicator: alert.indicator }, 15);
		});
		this.load();
	},

	add_style() {
		if ($("#jobkit-tray-style").length) return;
		$("head").append(`<style id="jobkit-tray-style">
			.jobkit-tray-menu { width: 360px; max-height: 480px; overflow-y: auto; padding: 8px 12px; }
			.jobkit-tray-header { font-weight: 600; padding-bottom: 6px; }
			.jobkit-tray-job { padding: 6px 0; border-top: 1px solid var(--border-color); }
			.jobkit-tray-title { display: flex; gap: 6px; align-items: center; }
			.jobkit-tray-title .ellipsis { flex: 1; }
			.jobkit-tray-progress { height: 6px; margin: 4px 0; }
			.jobkit-tray-count { margin-left: 2px; }
			.jobkit-tray-footer { border-top: 1px solid var(--border-color); padding-top: 6px; }
			.jobkit-tray-header { display: flex; gap: 8px; align-items: baseline; }
			.jobkit-tray-age { flex: 1; font-weight: normal; }
		</style>`);
	},

	load(live = false) {
		return frappe.xcall("jobkit.api.get_my_jobs").then((states) => {
			this.loaded_at = Date.now();
			(states || []).forEach((state) => this.update(state, live));
			this.render();
		});
	},

	socket_connected() {
		return !!(frappe.realtime.socket && frappe.realtime.socket.connected);
	},

	// Each second: say how old the figures are; with the socket down, poll while a job runs.
	tick() {
		const running = Object.values(this.jobs).some((state) => state.status === "running");
		const last = Math.max(this.loaded_at || 0, this.heard_at || 0);
		const live = this.socket_connected();
		if (running && last) {
			const age = Math.round((Date.now() - last) / 1000);
			this.$item.find(".jobkit-tray-age").text(live ? __("live · updated {0} s ago", [age]) : __("realtime down · updated {0} s ago", [age]));
		} else {
			this.$item.find(".jobkit-tray-age").text("");
		}
		if (running && !live && !this.polling && Date.now() - last > this.poll_ms) {
			this.polling = true;
			this.load(true).finally(() => (this.polling = false));
		}
	},

	hidden_ids() {
		try {
			return JSON.parse(localStorage.getItem("jobkit_tray_cleared") || "{}");
		} catch (e) {
			return {};
		}
	},

	clear_finished() {
		const cleared = this.hidden_ids();
		for (const state of Object.values(this.jobs)) {
			if (state.status !== "running") cleared[state.id] = state.updated_at;
		}
		localStorage.setItem("jobkit_tray_cleared", JSON.stringify(cleared));
		this.render();
	},

	update(state, live) {
		if (!state || !state.id) return;
		const before = this.jobs[state.id];
		if (before && before.updated_at > state.updated_at) return; // a late message
		this.jobs[state.id] = state;
		if (state.status !== "running") delete this.cancelling[state.id];
		if (live && before && before.status === "running" && state.status !== "running") this.toast(state);
		if (live) this.render(before);
		this.show_on_form(state);
	},

	render(before) {
		if (!this.$list) return;
		const cleared = this.hidden_ids();
		const states = Object.values(this.jobs)
			.filter((state) => !(cleared[state.id] && cleared[state.id] >= state.updated_at))
			.sort((a, b) => b.updated_at - a.updated_at)
			.slice(0, this.max_shown);
		const running = states.filter((state) => state.status === "running").length;
		this.$item.find(".jobkit-tray-count").text(running).toggleClass("hidden", !running);
		this.$item.find(".jobkit-tray-clear").toggleClass("hidden", states.every((state) => state.status === "running"));
		if (!states.length) {
			this.$list.html(`<div class="jobkit-tray-empty text-muted">${__("No background jobs")}</div>`);
			return;
		}
		// Progress of a listed job: change its bar and text in place, so that its Cancel button is
		// not rebuilt under the user's pointer a few times a second; anything else: list again.
		const ids = states.map((state) => state.id);
		const shown = this.$list
			.children(".jobkit-tray-job")
			.map((i, el) => $(el).attr("data-id"))
			.get();
		const same_list = ids.length === shown.length && ids.every((id) => shown.includes(id));
		if (same_list && before) {
			const state = this.jobs[before.id];
			const $entry = this.$list
				.children(".jobkit-tray-job")
				.filter((i, el) => $(el).attr("data-id") === state.id);
			if ($entry.length && $entry.attr("data-status") === state.status) {
				$entry.find(".jobkit-tray-progress").replaceWith(this.bar(state));
				$entry.find(".jobkit-tray-details").html(this.details(state));
				return;
			}
		}
		this.$list.html(states.map((state) => this.entry(state)).join(""));
	},

	entry(state) {
		const esc = frappe.utils.escape_html;
		const colour = this.with_errors(state) ? "orange" : { running: "blue", done: "green", failed: "red", cancelled: "gray" }[state.status];
		const label = this.with_errors(state) ? __("done with errors") : __(state.status);
		let cancel = "";
		if (state.status === "running") {
			cancel = this.cancelling[state.id]
				? `<button class="btn btn-xs btn-default" disabled>${__("Cancelling…")}</button>`
				: `<button class="btn btn-xs btn-default jobkit-tray-cancel" data-id="${esc(state.id)}">${__("Cancel")}</button>`;
		}
		return `
			<div class="jobkit-tray-job" data-id="${esc(state.id)}" data-status="${esc(state.status)}">
				<div class="jobkit-tray-title">
					<span class="indicator-pill ${colour}">${esc(label)}</span>
					${this.link_of(state) ? `<a class="ellipsis" href="${this.link_of(state)}">${esc(state.title || state.method || "")}</a>` : `<span class="ellipsis">${esc(state.title || state.method || "")}</span>`}
					${cancel}
				</div>
				${this.bar(state)}
				<div class="jobkit-tray-details text-muted small">${this.details(state)}</div>
			</div>`;
	},

	bar(state) {
		if (state.failed_record) return `<div class="jobkit-tray-progress"></div>`; // no progress to show
		const percent = state.percent == null ? null : Math.max(0, Math.min(100, state.percent));
		const background = { running: "primary", done: "success", failed: "danger", cancelled: "secondary" }[
			state.status
		];
		const inner =
			percent == null
				? `<div class="progress-bar progress-bar-striped progress-bar-animated" style="width: 100%"></div>`
				: `<div class="progress-bar bg-${background}" style="width: ${percent}%"></div>`;
		return `<div class="progress jobkit-tray-progress" data-percent="${percent == null ? "" : percent}">${inner}</div>`;
	},

	details(state) {
		const esc = frappe.utils.escape_html;
		// A failed job's record (no progress reported) has no counts to show.
		const counts = state.failed_record ? "" : state.total == null ? `${state.done}` : `${state.done} / ${state.total}`;
		return [
			state.stage ? esc(state.stage) : "",
			counts,
			state.status === "running" && state.eta != null ? __("{0} left", [this.duration(state.eta)]) : "",
			state.reason ? esc(state.reason) : "",
			state.status !== "running" && state.updated_at ? __("ended {0} ago", [this.duration(Math.max(Date.now() / 1000 - state.updated_at, 1))]) : "",
		]
			.filter(Boolean)
			.join(" · ");
	},

	// A batch that ended with failed items: "done", but not all of it.
	with_errors(state) {
		return state.status === "done" && state.stage === "Completed with errors";
	},

	link_of(state) {
		if (state.failed_record) return `/app/jobkit-failed-job/${encodeURIComponent(state.failed_record)}`;
		if (state.batch) return `/app/jobkit-batch/${encodeURIComponent(state.batch)}`;
		if (state.reference_doctype)
			return `/app/${frappe.router.slug(state.reference_doctype)}/${encodeURIComponent(state.reference_name)}`;
		if (state.status === "failed") return "/app/jobkit-failed-job?status=Failed";
		return "";
	},

	confirm_cancel(id) {
		const state = this.jobs[id];
		const title = frappe.utils.escape_html((state && (state.title || state.method)) || id);
		frappe.confirm(__("Cancel {0}? It stops at its next progress check; what it did so far stays done.", [title]), () => this.cancel(id));
	},

	cancel(id) {
		frappe.xcall("jobkit.api.cancel_job", { rq_id: id }).then((outcome) => {
			frappe.show_alert({ message: frappe.utils.escape_html(outcome.message), indicator: "orange" });
			if (outcome.cancelled && this.jobs[id] && this.jobs[id].status === "running") {
				this.cancelling[id] = true; // until the job sees it (cancel is cooperative)
				this.render();
			}
		});
	},

	toast(state) {
		const esc = frappe.utils.escape_html;
		const title = esc(state.title || state.method || "");
		const link = this.link_of(state);
		const text = {
			done: this.with_errors(state) ? __("{0}: done with errors", [title]) + (state.reason ? ` (${esc(state.reason)})` : "") : __("{0}: done", [title]),
			failed: __("{0}: failed", [title]) + (state.reason ? ` (${esc(state.reason)})` : ""),
			cancelled: __("{0}: cancelled", [title]),
		}[state.status];
		const message = link ? `<a href="${link}">${text}</a>` : text;
		const indicator = this.with_errors(state) ? "orange" : { done: "green", failed: "red", cancelled: "orange" }[state.status];
		frappe.show_alert({ message, indicator }, 10);
	},

	show_on_form(state) {
		// A form of the job's reference document shows its progress in the form's dashboard.
		const frm = window.cur_frm;
		if (!frm || !state.reference_doctype || frm.doctype !== state.reference_doctype) return;
		if (frm.docname !== state.reference_name || !frm.dashboard) return;
		const title = frappe.utils.escape_html(state.title || state.method || __("Background job"));
		if (state.status === "running") {
			frm.dashboard.show_progress(title, state.percent || 0, frappe.utils.escape_html(state.stage || ""));
		} else {
			frm.dashboard.hide_progress(title);
		}
	},

	duration(seconds) {
		if (seconds < 60) return __("{0} s", [Math.ceil(seconds)]);
		if (seconds < 3600) return __("{0} min", [Math.ceil(seconds / 60)]);
		return __("{0} h", [(seconds / 3600).toFixed(1)]);
	},
};

$(document).on("toolbar_setup", () => jobkit.tray.setup());
$(() => setTimeout(() => jobkit.tray.setup(), 0)); // the toolbar may be set up before this file ran
