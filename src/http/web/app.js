// The page talks to the public API only: /models, /train, /atrain, /jobs, /predict, the
// pictures under /models/NAME/, PUT /models/NAME for .npy imports.
"use strict";

const $ = (id) => document.getElementById(id);

/** The 10 sample colours of the original service (SAMPLE_COLOURS in src/som/mod.rs). */
const SAMPLE_COLOURS = [
  [0.09803922, 0.78823529, 0.27058824], [0.17254902, 0.8745098, 0.18823529],
  [0.82352941, 0.6, 0.49411765], [0.83529412, 0.56078431, 0.65098039],
  [0.85098039, 0.74509804, 0.54509804], [0.06666667, 0.3254902, 0.63529412],
  [0.1254902, 0.56470588, 0.09411765], [0.82352941, 0.00392157, 0.61176471],
  [0.91764706, 0.85882353, 0.70980392], [0.38039216, 0.68627451, 0.70980392],
];

/** Which form field each error code of the API is about. */
const FIELD_OF_CODE = {
  invalid_grid_shape: "grid", too_large: "grid", invalid_iterations: "iterations",
  invalid_learning_rate: "learning-rate", invalid_seed: "seed", invalid_data: "data",
  shape_mismatch: "data", non_finite_value: "data", invalid_name: "name", conflict: "name",
};

let selected = null;
let polling = null;

/** Calls the API; resolves to {ok, status, body} with the JSON (or Blob) body. */
async function api(method, path, body, { binary = false, raw = false } = {}) {
  const init = { method };
  if (body !== undefined) init.body = raw ? body : JSON.stringify(body);
  const response = await fetch(path, init);
  const type = response.headers.get("content-type") || "";
  const parsed = binary && response.ok ? await response.blob()
    : type.includes("json") ? await response.json() : await response.text();
  return { ok: response.ok, status: response.status, body: parsed };
}

function showError(id, message) {
  const element = $(id);
  element.textContent = message || "";
  element.hidden = !message;
}

function clearErrors() {
  for (const element of document.querySelectorAll("#train-form .error")) showError(element.id, "");
}

/** Puts the server's message next to the field its code is about. */
function showApiError(body) {
  const message = body && body.message ? body.message : String(body);
  let field = FIELD_OF_CODE[body && body.code];
  if (body && body.code === "missing_field") field = "form";
  showError(`error-${field || "form"}`, message);
  const input = { grid: "grid-rows", iterations: "iterations", "learning-rate": "learning-rate",
    seed: "seed", name: "import-name" }[field];
  if (input) $(input).focus();
}

function describe(model) {
  const parts = [];
  if (model.grid_shape) parts.push(`${model.grid_shape[0]}x${model.grid_shape[1]}`);
  if (model.dim) parts.push(`D=${model.dim}`);
  if (model.created_at) parts.push(new Date(model.created_at).toLocaleString());
  if (model.quantization_error != null) parts.push(`QE ${model.quantization_error.toPrecision(3)}`);
  if (model.topographic_error != null) parts.push(`TE ${model.topographic_error.toPrecision(3)}`);
  return parts.join(" · ");
}

function thumbnailScale(model) {
  const side = model.grid_shape ? Math.max(...model.grid_shape) : 64;
  return Math.max(1, Math.floor(64 / side));
}

async function loadModels() {
  const { ok, body } = await api("GET", "/models");
  if (!ok) return;
  const list = $("models");
  list.replaceChildren();
  $("models-empty").hidden = body.length > 0;
  for (const model of body) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.name = model.name;
    if (model.name === selected) button.setAttribute("aria-current", "true");
    const image = document.createElement("img");
    image.src = `/models/${encodeURIComponent(model.name)}/image.png?scale=${thumbnailScale(model)}`;
    image.alt = "";
    image.loading = "lazy";
    const text = document.createElement("span");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = model.name;
    const facts = document.createElement("span");
    facts.className = "facts";
    facts.textContent = describe(model);
    text.append(name, document.createElement("br"), facts);
    button.append(image, text);
    button.addEventListener("click", () => openModel(model.name));
    item.append(button);
    list.append(item);
  }
}

async function openModel(name) {
  selected = name;
  const { ok, body } = await api("GET", `/models/${encodeURIComponent(name)}`);
  if (!ok) return;
  const base = `/models/${encodeURIComponent(name)}`;
  $("model").hidden = false;
  $("model-title").textContent = name;
  $("model-facts").textContent = describe(body);
  $("model-download").href = `/download/${encodeURIComponent(name)}`;
  $("model-download").setAttribute("download", `${name}.npy`);
  $("model-map").src = `${base}/image.png`;
  $("model-umatrix").src = `${base}/umatrix.png`;
  const hasCurves = body.max_iterations != null;
  $("model-curves-figure").hidden = !hasCurves;
  if (hasCurves) $("model-curves").src = `${base}/curves.png`;
  else $("model-curves").removeAttribute("src");
  $("predict-result").hidden = true;
  showError("predict-error", "");
  for (const button of document.querySelectorAll("#models button")) {
    if (button.dataset.name === name) button.setAttribute("aria-current", "true");
    else button.removeAttribute("aria-current");
  }
  $("model").scrollIntoView({ behavior: "smooth", block: "start" });
}

/** Rows of numbers from CSV (an optional header row) or a JSON array of rows. */
function parseRows(text) {
  const trimmed = text.trim();
  if (!trimmed) throw new Error("there is no data: paste rows of numbers");
  if (trimmed.startsWith("[")) {
    let rows;
    try {
      rows = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`this is not valid JSON: ${err.message}`);
    }
    if (!Array.isArray(rows)) throw new Error("the JSON must be an array of rows");
    return rows;
  }
  const lines = trimmed.split(/\r?\n/).filter((line) => line.trim());
  const rows = lines.map((line) => line.split(/[,;\t ]+/).filter(Boolean));
  if (rows.length && rows[0].some((cell) => Number.isNaN(Number(cell)))) rows.shift();
  return rows.map((row, r) => row.map((cell, c) => {
    const value = Number(cell);
    if (Number.isNaN(value)) throw new Error(`row ${r + 1}, column ${c + 1} is not a number: ${cell}`);
    return value;
  }));
}

function randomColours(count) {
  return Array.from({ length: count }, () => [Math.random(), Math.random(), Math.random()]);
}

async function trainingData() {
  const source = document.querySelector('input[name="source"]:checked').value;
  if (source === "samples") return SAMPLE_COLOURS;
  if (source === "random") return randomColours(Number($("random-count").value) || 0);
  if (source === "paste") return parseRows($("train-paste").value);
  const file = $("train-file").files[0];
  if (!file) throw new Error("choose a file");
  return parseRows(await file.text());
}

function numberOrText(id) {
  const value = $(id).value.trim();
  if (value === "") return undefined;
  const number = Number(value);
  return Number.isNaN(number) ? value : number;
}

async function importNpy(file) {
  const name = $("import-name").value.trim();
  if (!name) {
    showError("error-name", "give the imported map a name");
    $("import-name").focus();
    return;
  }
  const { ok, body } = await api("PUT", `/models/${encodeURIComponent(name)}`, await file.arrayBuffer(), { raw: true });
  if (!ok) return showApiError(body);
  await loadModels();
  await openModel(body.name);
}

async function train(event) {
  event.preventDefault();
  clearErrors();
  const file = $("train-file").files[0];
  const fromFile = document.querySelector('input[name="source"]:checked').value === "file";
  if (fromFile && file && file.name.toLowerCase().endsWith(".npy")) return importNpy(file);
  let data;
  try {
    data = await trainingData();
  } catch (err) {
    showError("error-data", err.message);
    return;
  }
  const request = {
    training_data: data,
    grid_shape: [numberOrText("grid-rows"), numberOrText("grid-cols")],
    max_iterations: numberOrText("iterations"),
    learning_rate: numberOrText("learning-rate"),
  };
  const seed = numberOrText("seed");
  if (seed !== undefined) request.seed = seed;
  const background = $("background").checked;
  const submit = $("train-submit");
  submit.disabled = true;
  try {
    const { ok, body } = await api("POST", background ? "/atrain" : "/train", request);
    if (!ok) return showApiError(body);
    const name = body["operation-location"];
    if (background) {
      follow(name);
    } else {
      await loadModels();
      await openModel(name);
    }
  } finally {
    submit.disabled = false;
  }
}

function formatSeconds(seconds) {
  if (seconds == null) return "estimating…";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

/** Shows a job's progress until it ends; a finished map then opens without a reload. */
function follow(name) {
  if (polling) clearInterval(polling);
  $("job").hidden = false;
  $("job-name").textContent = name;
  $("job-cancel").hidden = false;
  $("job-cancel").onclick = async () => {
    const { ok, body } = await api("DELETE", `/jobs/${encodeURIComponent(name)}`);
    if (!ok) $("job-status").textContent = body.message;
  };
  const tick = async () => {
    const { ok, body } = await api("GET", `/jobs/${encodeURIComponent(name)}`);
    if (!ok) return;
    $("job-progress").value = body.progress;
    const done = `${body.iterations_done} of ${body.max_iterations} iterations`;
    if (body.status === "queued" || body.status === "running") {
      $("job-status").textContent = `${body.status}: ${done}, ETA ${formatSeconds(body.eta_seconds)}`;
      return;
    }
    clearInterval(polling);
    polling = null;
    $("job-cancel").hidden = true;
    $("job-status").textContent = body.status === "failed"
      ? `failed: ${body.error}` : `${body.status}: ${done}`;
    if (body.status === "succeeded") {
      await loadModels();
      await openModel(name);
    }
  };
  polling = setInterval(tick, 250);
  tick();
}

async function predict(event) {
  event.preventDefault();
  showError("predict-error", "");
  let vectors;
  try {
    vectors = parseRows($("predict-data").value);
  } catch (err) {
    return showError("predict-error", err.message);
  }
  const request = { model_name: selected, test_data: vectors };
  const { ok, body } = await api("POST", "/predict", request);
  if (!ok) return showError("predict-error", body.message);
  const picture = await api("POST", `/models/${encodeURIComponent(selected)}/predictions.png`,
    { test_data: vectors }, { binary: true });
  if (!picture.ok) return showError("predict-error", picture.body.message);
  const image = $("predict-picture");
  if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
  image.src = URL.createObjectURL(picture.body);
  const list = $("predict-list");
  list.replaceChildren(...body.predictions.map(([row, col], index) => {
    const item = document.createElement("li");
    item.textContent = `[${vectors[index].join(", ")}] → row ${row}, column ${col}`;
    return item;
  }));
  $("predict-result").hidden = false;
}

async function deleteSelected() {
  if (!selected || !window.confirm(`Delete ${selected}?`)) return;
  const { ok, body } = await api("DELETE", `/models/${encodeURIComponent(selected)}`);
  if (!ok) return window.alert(body.message);
  selected = null;
  $("model").hidden = true;
  await loadModels();
}

$("train-form").addEventListener("submit", train);
$("predict-form").addEventListener("submit", predict);
$("model-delete").addEventListener("click", deleteSelected);
$("train-paste").addEventListener("focus", () => {
  document.querySelector('input[name="source"][value="paste"]').checked = true;
});
$("train-file").addEventListener("change", () => {
  document.querySelector('input[name="source"][value="file"]').checked = true;
});
$("random-count").addEventListener("focus", () => {
  document.querySelector('input[name="source"][value="random"]').checked = true;
});
loadModels();
