// The jobs panel (every job `GET /jobs` lists, so it survives a reload) and the followed job:
// the one this page started, with its progress, a countdown to its end, and milestones spoken
// by a live region instead of every tick.

import { api, messageOf, serverIsDown, Unreachable } from "./api.js";

const $ = (id) => document.getElementById(id);

const ACTIVE_POLL_MS = 1000;
const IDLE_POLL_MS = 4000;
const FOLLOWED_KEY = "kohonen.followed";
const MILESTONES = [0.25, 0.5, 0.75];

/** Per job: the moment its ETA counts down to, set when the server's progress changes. */
const deadlines = new Map();
let jobs = [];
let followed = sessionStorage.getItem(FOLLOWED_KEY);
let spokenMilestones = new Set();
let onSucceeded = () => {};
let pollTimer = null;

const active = (job) => job.status === "queued" || job.status === "running";

/** Speaks `text` once through the live region. */
function announce(text) {
  $("announcer").textContent = text;
}

function formatSeconds(seconds) {
  if (seconds == null) return "estimating…";
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** Seconds left for `job`: the server's estimate when its progress moved, counted down since. */
function secondsLeft(job) {
  const known = deadlines.get(job.name);
  if (job.eta_seconds == null) return null;
  if (!known || known.progress !== job.progress) {
    deadlines.set(job.name, { progress: job.progress, at: Date.now() + job.eta_seconds * 1000 });
  }
  return Math.max(0, (deadlines.get(job.name).at - Date.now()) / 1000);
}

function statusText(job) {
  const done = `${job.iterations_done} of ${job.max_iterations ?? "?"} iterations`;
  if (job.cancel_requested && active(job)) return `Stopping…: ${done}`;
  if (job.status === "running") return `running: ${done}, ETA ${formatSeconds(secondsLeft(job))}`;
  if (job.status === "queued") return "queued: waiting for a free slot";
  if (job.status === "failed") return `failed: ${job.error || "no reason given"}`;
  return `${job.status}: ${done}`;
}

async function cancel(name, button) {
  button.disabled = true;
  button.textContent = "Stopping…";
  try {
    const { ok, status, body } = await api("DELETE", `/jobs/${encodeURIComponent(name)}`);
    if (!ok && status !== 409) {
      button.disabled = false;
      button.textContent = "Cancel";
      announce(`Could not cancel ${name}: ${messageOf(body)}`);
    }
    const job = jobs.find((candidate) => candidate.name === name);
    if (ok && job && body.cancel_requested) job.cancel_requested = true;
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
    button.disabled = false;
    button.textContent = "Cancel";
  }
  await refresh();
}

function cancelButton(job) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "secondary";
  button.textContent = job.cancel_requested ? "Stopping…" : "Cancel";
  button.disabled = Boolean(job.cancel_requested);
  button.setAttribute("aria-label", `Cancel ${job.name}`);
  button.addEventListener("click", () => cancel(job.name, button));
  return button;
}

function jobItem(job) {
  const item = document.createElement("li");
  item.dataset.name = job.name;
  item.dataset.status = job.status;
  const name = document.createElement("a");
  name.className = "name";
  name.textContent = job.name;
  name.title = job.name;
  if (job.status === "succeeded") name.href = `#/models/${encodeURIComponent(job.name)}`;
  const bar = document.createElement("progress");
  bar.max = 1;
  bar.value = job.progress;
  bar.setAttribute("aria-label", `Progress of ${job.name}`);
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = statusText(job);
  item.append(name, bar, status);
  if (active(job)) item.append(cancelButton(job));
  return item;
}

function renderList() {
  $("jobs-empty").hidden = jobs.length > 0;
  $("jobs").replaceChildren(...jobs.map(jobItem));
}

/** Updates the followed job's panel, and speaks when it reaches a milestone. */
function renderFollowed() {
  const job = jobs.find((candidate) => candidate.name === followed);
  if (!job) return;
  $("job").hidden = false;
  $("job-name").textContent = job.name;
  $("job-name").title = job.name;
  const bar = $("job-progress");
  bar.value = job.progress;
  bar.setAttribute("aria-label", `Training progress of ${job.name}`);
  $("job-status").textContent = statusText(job);
  const button = $("job-cancel");
  button.hidden = !active(job);
  button.disabled = Boolean(job.cancel_requested);
  button.textContent = job.cancel_requested ? "Stopping…" : "Cancel";
  if (active(job)) {
    for (const milestone of MILESTONES) {
      if (job.progress >= milestone && !spokenMilestones.has(milestone)) {
        spokenMilestones.add(milestone);
        announce(`${job.name}: ${Math.round(milestone * 100)}% done`);
      }
    }
    return;
  }
  followed = null;
  sessionStorage.removeItem(FOLLOWED_KEY);
  if (job.status === "succeeded") {
    announce(`${job.name} finished training`);
    onSucceeded(job.name);
  } else if (job.status === "failed") {
    announce(`${job.name} failed: ${job.error || "no reason given"}`);
  } else {
    announce(`${job.name} was ${job.status}`);
  }
}

/** Follows job `name`: its panel shows it and the live region speaks at its milestones. */
export function follow(name) {
  followed = name;
  sessionStorage.setItem(FOLLOWED_KEY, name);
  spokenMilestones = new Set();
  announce(`Training ${name} started`);
  $("job").hidden = false;
  $("job-name").textContent = name;
  $("job-status").textContent = "queued";
  $("job-progress").value = 0;
  $("job-cancel").hidden = false;
  $("job-cancel").disabled = false;
  $("job-cancel").textContent = "Cancel";
  refresh();
}

/** Reads `GET /jobs` (and the followed job if the list no longer has it) and shows them. */
export async function refresh() {
  clearTimeout(pollTimer);
  try {
    const { ok, body } = await api("GET", "/jobs");
    if (ok) jobs = body;
    if (followed && !jobs.some((job) => job.name === followed)) {
      const single = await api("GET", `/jobs/${encodeURIComponent(followed)}`);
      if (single.ok) jobs = [single.body, ...jobs];
      else if (single.status === 404) followed = null;
    }
    renderList();
    renderFollowed();
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  }
  const busy = jobs.some(active);
  // Refreshes started elsewhere (a cancel, a recovery) may overlap this one: one timer stays.
  clearTimeout(pollTimer);
  pollTimer = setTimeout(refresh, busy && !serverIsDown() ? ACTIVE_POLL_MS : IDLE_POLL_MS);
}

/** Starts the panel; `succeeded` runs with a followed job's name when it has trained. */
export function startJobs(succeeded) {
  onSucceeded = succeeded;
  $("job-cancel").addEventListener("click", () => cancel(followed || $("job-name").textContent, $("job-cancel")));
  // The countdown moves between polls; the numbers themselves change only when they do.
  setInterval(() => {
    for (const status of document.querySelectorAll("#jobs li")) {
      const job = jobs.find((candidate) => candidate.name === status.dataset.name);
      if (job && job.status === "running") status.querySelector(".status").textContent = statusText(job);
    }
    const job = jobs.find((candidate) => candidate.name === followed);
    if (job && job.status === "running") $("job-status").textContent = statusText(job);
  }, 500);
  refresh();
}
