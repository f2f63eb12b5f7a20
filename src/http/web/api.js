// Every request of the page goes through here, so one place knows whether the server answers:
// a request that cannot reach it shows the banner, and a health check retries with backoff
// until the server is back, when the page is told to refresh what it shows.

const $ = (id) => document.getElementById(id);

/** Thrown instead of an answer when the server cannot be reached at all. */
export class Unreachable extends Error {
  constructor() {
    super("the server cannot be reached");
  }
}

const FIRST_RETRY_MS = 1000;
const LAST_RETRY_MS = 8000;
let down = false;
let retryTimer = null;
let countdownTimer = null;
const recoveryListeners = [];

/** `listener` runs each time the server answers again after being unreachable. */
export function onRecovery(listener) {
  recoveryListeners.push(listener);
}

export function serverIsDown() {
  return down;
}

function showRetryIn(ms) {
  const until = Date.now() + ms;
  clearInterval(countdownTimer);
  const render = () => {
    $("offline-retry").textContent = `${Math.max(0, Math.ceil((until - Date.now()) / 1000))} s`;
  };
  render();
  countdownTimer = setInterval(render, 500);
}

function scheduleCheck(delay) {
  showRetryIn(delay);
  retryTimer = setTimeout(async () => {
    let back = false;
    try {
      back = (await fetch("/health", { cache: "no-store" })).ok;
    } catch {
      back = false;
    }
    if (back) recovered();
    else scheduleCheck(Math.min(delay * 2, LAST_RETRY_MS));
  }, delay);
}

function lost() {
  if (down) return;
  down = true;
  $("offline").hidden = false;
  scheduleCheck(FIRST_RETRY_MS);
}

function recovered() {
  if (!down) return;
  down = false;
  clearTimeout(retryTimer);
  clearInterval(countdownTimer);
  $("offline").hidden = true;
  for (const listener of recoveryListeners) listener();
}

/** The answer's body: JSON when it says so, a Blob when asked for one, else text. */
async function readBody(response, binary) {
  const type = response.headers.get("content-type") || "";
  if (binary && response.ok) return response.blob();
  if (type.includes("json")) return response.json();
  return response.text();
}

/**
 * Calls the API; resolves to {ok, status, body, headers} with the JSON (or Blob, or ArrayBuffer) body,
 * or throws `Unreachable` (after showing the banner) when the server does not answer.
 */
export async function api(method, path, body, { binary = false, raw = false, buffer = false } = {}) {
  const init = { method };
  if (body !== undefined) init.body = raw ? body : JSON.stringify(body);
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    lost();
    throw new Unreachable();
  }
  recovered();
  const parsed = buffer && response.ok ? await response.arrayBuffer() : await readBody(response, binary);
  return { ok: response.ok, status: response.status, body: parsed, headers: response.headers };
}

/** The message of an error answer (the API's `{message, code}`, or whatever came). */
export function messageOf(body) {
  if (body && typeof body === "object" && body.message) return body.message;
  return typeof body === "string" && body ? body : "the server refused the request";
}

/**
 * PUTs `file` to `path` with XMLHttpRequest, whose upload events fetch lacks; `onProgress`
 * gets the fraction sent. Resolves like `api`.
 */
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PUT", path);
    request.responseType = "json";
    request.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress(event.loaded / event.total);
    });
    request.addEventListener("load", () => {
      recovered();
      resolve({ ok: request.status >= 200 && request.status < 300, status: request.status, body: request.response });
    });
    request.addEventListener("error", () => {
      lost();
      reject(new Unreachable());
    });
    request.send(file);
  });
}
