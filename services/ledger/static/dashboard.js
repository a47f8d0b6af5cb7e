// The ledger dashboard: reads the JSON API once, then follows the live event stream.
// Step lines (run.progress) update the current run in place; every other event refreshes
// the summary, chart and table with one request, and a burst of events shares one.
"use strict";

const PAGE = 50;
const SETTLE_MS = 150;  // events closer than this share one refresh
const state = {
  campaign: null, shown: PAGE, source: null, running: null, statuses: new Map(),
  refreshTimer: null, refreshing: null, again: false,
};
const $ = (id) => document.getElementById(id);

async function getJSON(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

const enc = encodeURIComponent;
const fmtBpb = (v) => (v === null || v === undefined ? "–" : Number(v).toFixed(6));
const fmtPct = (v) => (v === null || v === undefined ? "–" : `${v.toFixed(2)}%`);
// "run 2" for a confirmation run, "kept state run 2" for a re-run of the kept state, "" for a first run
const runLabel = (repeat, keptState) => [keptState ? "kept state" : "", repeat ? `run ${repeat + 1}` : ""].filter(Boolean).join(" ");

function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return h ? `${h}h ${m}m` : m ? `${m}m ${r}s` : `${r}s`;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) node.append(child === null || child === undefined ? "" : child);
  return node;
}

function renderSummary(s) {
  $("s-baseline").textContent = fmtBpb(s.baseline_val_bpb);
  $("s-best").textContent = fmtBpb(s.best_val_bpb);
  $("s-best-what").textContent = s.best_commit ? `${s.best_commit.slice(0, 7)} · ${s.best_description}` : "";
  $("s-improvement").textContent = fmtPct(s.improvement_percent);
  $("s-total").textContent = s.experiments_total;
  for (const key of ["keep", "discard", "crash", "rejected"]) $(`s-${key}`).textContent = s.counts[key];
  $("s-wall").textContent = fmtDuration(s.wall_seconds);
  $("s-state").textContent = s.state || (s.finished ? "finished" : s.running ? "training" : "waiting");
  $("s-idle").textContent = s.idle_share === null ? "–" : `${(s.idle_share * 100).toFixed(1)}%`;
  $("s-idle-seconds").textContent = s.idle_share === null ? "" : `${fmtDuration(s.idle_seconds)} idle of ${fmtDuration(s.idle_seconds + s.training_seconds)}`;
  $("s-sigma").textContent = s.sigma === null || s.sigma === undefined ? "–" : Number(s.sigma).toFixed(6);
  $("s-confirmations").textContent = s.confirmation_runs ?? 0;
  $("s-runs").textContent = s.runs_total ?? 0;
  $("s-rule").textContent = s.keep_rule ? `· ${s.keep_rule}` : "";
  renderConfirming(s.confirming);
  state.running = s.running;
  renderRun();
}

function renderConfirming(asked) {
  $("confirming").hidden = !asked;
  if (!asked) return;
  $("confirming-id").textContent = asked.experiment_id;
  $("confirming-what").textContent = asked.kept_state ? "kept state" : asked.description;
  $("confirming-run").textContent = `(run ${asked.run_number})`;
  $("confirming-reason").textContent = asked.reason ? `· ${asked.reason}` : "";
}

function renderRun() {
  const run = state.running;
  $("run-none").hidden = !!run;
  $("run-box").hidden = !run;
  if (!run) return;
  $("run-id").textContent = run.experiment_id;
  $("run-commit").textContent = run.commit.slice(0, 7);
  $("run-description").textContent = run.description;
  $("run-which").textContent = runLabel(run.repeat || 0, !!run.kept_state);
  const percent = run.percent === null || run.percent === undefined ? null : Math.min(run.percent, 100);
  $("run-bar").style.width = percent === null ? "0%" : `${percent}%`;
  $("run-percent").textContent = percent === null ? "starting" : `${percent.toFixed(1)}%`;
  $("run-step").textContent = run.step === null || run.step === undefined ? "" : `step ${run.step}`;
  $("run-loss").textContent = run.loss === null || run.loss === undefined ? "" : `loss ${run.loss.toFixed(4)}`;
  const elapsed = (Date.now() - Date.parse(run.started_at)) / 1000;
  $("run-elapsed").textContent = `running ${fmtDuration(Math.max(elapsed, 0))}`;
}

function renderTable(page) {
  const body = document.querySelector("#experiments tbody");
  const firstRender = state.statuses.size === 0;  // nothing is new on the first render
  const rows = page.items.map((x) => {
    const fresh = !firstRender && state.statuses.get(x.experiment_id) !== x.status;
    state.statuses.set(x.experiment_id, x.status);
    const open = () => openDetail(x.experiment_id);
    return el("tr", { class: `status-${x.status}${fresh ? " fresh" : ""}`, "data-experiment": x.experiment_id, onclick: open },
      el("td", { class: "num" }, x.number === null ? "" : x.number),
      el("td", { class: "mono" }, x.experiment_id),
      el("td", { class: "mono" }, x.commit ? x.commit.slice(0, 7) : ""),
      el("td", { class: "num mono" }, x.val_bpb === null ? "" : fmtBpb(x.val_bpb)),
      el("td", { class: "num" }, x.memory_gb === null ? "" : `${x.memory_gb.toFixed(1)} GB`),
      el("td", {}, el("span", { class: `badge ${x.status}` }, x.status)),
      el("td", { class: "description" }, x.description),
      el("td", { class: "num runs", title: `${x.confirmations || 0} confirmation runs` }, x.runs || ""),
      el("td", { class: "num" }, x.duration_seconds === null ? "" : fmtDuration(x.duration_seconds)),
      el("td", {}, x.diff ? el("button", { type: "button", class: "link", onclick: (e) => { e.stopPropagation(); open(); } }, "diff") : ""));
  });
  body.replaceChildren(...rows);
  $("table-count").textContent = `${page.total} in all, newest first`;
  $("more").hidden = page.total <= page.items.length;
}

function section(title, ...content) {
  return el("section", { class: "detail-section" }, el("h3", {}, title), ...content);
}

function table(entries) {
  return el("table", { class: "kv" }, ...entries.map(([k, v]) => el("tr", {}, el("th", {}, k), el("td", { class: "mono" }, String(v)))));
}

function diffBlock(diff) {
  const lines = diff.split("\n").map((line) => {
    const kind = line.startsWith("+++") || line.startsWith("---") ? "meta" : line.startsWith("@@") ? "hunk"
      : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
    return el("span", { class: `diff-${kind}` }, line || " ");
  });
  return el("pre", { class: "diff" }, ...lines);
}

function runsTable(runs) {
  const head = el("tr", {}, ...["#", "commit", "run", "status", "val_bpb", "memory", "duration", "started"].map((h) => el("th", {}, h)));
  const rows = runs.map((r, i) => el("tr", { class: r.kept_state ? "kept-state" : "" },
    el("td", { class: "num" }, i + 1), el("td", { class: "mono" }, r.commit.slice(0, 7)),
    el("td", {}, runLabel(r.repeat, r.kept_state) || "first"), el("td", {}, r.status),
    el("td", { class: "num mono" }, fmtBpb(r.val_bpb)), el("td", { class: "num" }, r.memory_gb === null ? "–" : `${r.memory_gb.toFixed(1)} GB`),
    el("td", { class: "num" }, fmtDuration(r.duration_seconds)), el("td", { class: "mono" }, new Date(r.started_at).toLocaleTimeString())));
  return el("table", { class: "runs-table" }, el("thead", {}, head), el("tbody", {}, ...rows));
}

async function openDetail(experimentId) {
  const x = await getJSON(`/api/campaigns/${enc(state.campaign)}/experiments/${enc(experimentId)}`);
  $("d-title").replaceChildren(`${x.experiment_id} `, el("span", { class: `badge ${x.status}` }, x.status));
  $("d-summary").textContent = [x.description, x.val_bpb === null ? null : `val_bpb ${fmtBpb(x.val_bpb)}`, x.reason]
    .filter(Boolean).join(" · ");
  const parts = [];
  if (x.rejection) parts.push(section("Rejected", el("p", {}, x.rejection)));
  if (x.commit_made) {
    const c = x.commit_made;
    const where = c.kept_at_ref ? ` · kept at ${c.kept_at_ref}` : "";
    parts.push(section("Diff", el("p", { class: "muted mono" }, `${c.commit.slice(0, 7)} on ${c.parent.slice(0, 7)} · +${c.lines_added} −${c.lines_removed}${where}`), diffBlock(c.diff)));
  }
  if (x.proposal) {
    parts.push(section("Proposal", table([["rationale", x.proposal.rationale || "–"], ["expected VRAM", x.proposal.expected_vram_impact],
      ["proposer", x.proposal.proposer_kind], ["base", x.proposal.base_commit.slice(0, 7)]])));
  }
  if (x.verdict) {
    const v = x.verdict;
    parts.push(section("Verdict", table([["status", v.status], ["val_bpb", v.val_bpb === null || v.runs < 2 ? fmtBpb(v.val_bpb) : `${fmtBpb(v.val_bpb)} (mean of ${v.runs} runs)`],
      ["memory", `${v.memory_gb.toFixed(1)} GB`], ["best before", `${fmtBpb(v.best_before)}${v.kept_runs > 1 ? ` (mean of ${v.kept_runs} runs)` : ""}`],
      ["best after", fmtBpb(v.best_after)], ["σ̂", v.sigma === null ? "–" : Number(v.sigma).toFixed(6)],
      ["confirmation runs", v.confirmations], ["keep rule", v.keep_rule], ["reason", v.reason], ["head", v.head.slice(0, 7)]])));
  }
  if (x.all_runs && x.all_runs.length > 1) parts.push(section("Runs", runsTable(x.all_runs)));
  if (x.run) {
    const r = x.run;
    parts.push(section("Run", table([["status", r.status], ["duration", fmtDuration(r.duration_seconds)], ["exit code", r.exit_code ?? "–"],
      ["command", r.command || "–"], ...Object.entries(r.metrics)])));
    if (Object.keys(r.environment).length) parts.push(section("Environment", table(Object.entries(r.environment))));
    if (r.log_tail) parts.push(section("Log tail", el("pre", { class: "log" }, r.log_tail)));
  }
  $("d-body").replaceChildren(...parts);
  if (!$("detail").open) $("detail").showModal();
}

function renderCampaigns(campaigns) {
  const select = $("campaign");
  const names = [...select.options].map((option) => option.value);
  if (names.join("\n") !== campaigns.join("\n")) {
    select.replaceChildren(...campaigns.map((name) => el("option", { value: name }, name)));
  }
  select.value = state.campaign;
}

// One request brings everything the page shows: the campaigns, the summary, the chart and the newest rows.
async function refresh() {
  if (!state.campaign) return;
  const data = await getJSON(`/api/campaigns/${enc(state.campaign)}/dashboard?limit=${Math.min(state.shown, 500)}`);
  renderCampaigns(data.campaigns);
  renderSummary(data.summary);
  drawProgressChart($("chart"), data.progress.points, openDetail);
  renderTable(data.experiments);
  document.body.dataset.loaded = "1";
}

// At most one refresh waits and one runs: events during the wait join it, events during the run ask for one more.
function scheduleRefresh() {
  if (state.refreshTimer !== null) return;
  state.refreshTimer = setTimeout(() => {
    state.refreshTimer = null;
    if (state.refreshing) { state.again = true; return; }
    state.refreshing = refresh().catch(console.error).finally(() => {
      state.refreshing = null;
      if (state.again) { state.again = false; scheduleRefresh(); }
    });
  }, SETTLE_MS);
}

// With no campaign shown yet, the first event names the campaign to show.
function onFirstEvent(event) {
  const campaign = JSON.parse(event.data).campaign;
  if (campaign && !state.campaign) start(campaign).catch(console.error);
}

function onProgress(event) {
  const p = JSON.parse(event.data);
  if (!state.running || state.running.experiment_id !== p.experiment_id) return scheduleRefresh();
  Object.assign(state.running, { step: p.step, percent: p.percent, loss: p.loss });
  renderRun();
}

function follow(campaign) {
  if (state.source) state.source.close();
  const source = new EventSource(`/api/events/stream${campaign ? `?campaign=${enc(campaign)}` : ""}`);
  const live = $("live");
  source.onopen = () => { live.textContent = "live"; live.className = "live on"; document.body.dataset.live = "1"; };
  source.onerror = () => { live.textContent = "reconnecting…"; live.className = "live off"; document.body.dataset.live = "0"; };
  source.addEventListener("run.progress", onProgress);
  for (const type of ["campaign.started", "campaign.finished", "proposal.created", "proposal.rejected", "commit.made",
    "run.started", "run.finished", "confirmation.requested", "verdict.decided", "proposal.exhausted"]) {
    source.addEventListener(type, campaign ? scheduleRefresh : onFirstEvent);
  }
  state.source = source;
}

// Show a campaign: the one named, else the one in the address, else the newest; the list is asked for only without a name.
async function start(named) {
  let campaign = named || null, campaigns = null;
  if (!campaign) {
    campaigns = await getJSON("/api/campaigns");
    const wanted = new URLSearchParams(location.search).get("campaign");
    campaign = campaigns.includes(wanted) ? wanted : campaigns[campaigns.length - 1] || null;
  }
  $("empty").hidden = !!campaign;
  state.campaign = campaign;
  state.shown = PAGE;
  state.statuses.clear();
  if (campaigns) renderCampaigns(campaigns);
  if (campaign) {
    $("tsv-link").href = `/api/campaigns/${enc(campaign)}/results.tsv`;
    $("png-link").href = `/api/campaigns/${enc(campaign)}/progress.png`;
    await refresh();
  }
  follow(campaign);
}

$("campaign").addEventListener("change", (e) => {
  history.replaceState(null, "", `?campaign=${enc(e.target.value)}`);
  start(e.target.value).catch(console.error);
});
$("more").addEventListener("click", () => { state.shown += PAGE; refresh().catch(console.error); });
setInterval(renderRun, 1000);
let lastWidth = 0;
window.addEventListener("resize", () => { if (Math.abs(window.innerWidth - lastWidth) > 40) { lastWidth = window.innerWidth; scheduleRefresh(); } });
start().catch((error) => { $("live").textContent = `error: ${error.message}`; });
