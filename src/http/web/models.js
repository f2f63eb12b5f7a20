// The model list (newest first, searchable, thumbnails), the URL of each model
// (`#/models/NAME`, so Back and Forward work), the open model's views, and the node under the
// pointer or the keyboard: its position, weights in data units, hits and label.

import { api, messageOf, Unreachable } from "./api.js";
import { readTable } from "./data.js";

const $ = (id) => document.getElementById(id);
const path = (name) => `/models/${encodeURIComponent(name)}`;

let models = [];
/** The open model's record (GET /models/NAME), or null. */
let current = null;
/** Increases with every open, so that an older, slower answer never replaces a newer one. */
let openCount = 0;
/** Per model: a promise of its weights in data units and of its nodes' facts. */
const weightsCache = new Map();
const nodesCache = new Map();
/** The node the inspector shows, [row, col]. */
let focusNode = [0, 0];

function describe(model) {
  const parts = [];
  if (model.grid_shape) parts.push(`${model.grid_shape[0]}x${model.grid_shape[1]}`);
  if (model.dim) parts.push(`D=${model.dim}`);
  if (model.created_at) parts.push(new Date(model.created_at).toLocaleString());
  if (model.quantization_error != null) parts.push(`QE ${model.quantization_error.toPrecision(3)}`);
  if (model.topographic_error != null) parts.push(`TE ${model.topographic_error.toPrecision(3)}`);
  return parts.join(" · ");
}

function newestFirst(a, b) {
  const time = (model) => (model.created_at ? Date.parse(model.created_at) : -Infinity);
  return time(b) - time(a) || a.name.localeCompare(b.name);
}

function modelItem(model) {
  const item = document.createElement("li");
  const link = document.createElement("a");
  link.href = `#${path(model.name)}`;
  link.dataset.name = model.name;
  link.title = model.name;
  if (current && model.name === current.name) link.setAttribute("aria-current", "page");
  const image = document.createElement("img");
  image.src = `${path(model.name)}/image.png?size=64`;
  image.alt = "";
  image.loading = "lazy";
  const text = document.createElement("span");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = model.name;
  const facts = document.createElement("span");
  facts.className = "facts";
  facts.textContent = describe(model);
  text.append(name, facts);
  link.append(image, text);
  item.append(link);
  return item;
}

function renderModels() {
  const query = $("model-search").value.trim().toLowerCase();
  const shown = models.filter((model) => model.name.toLowerCase().includes(query));
  $("models-empty").hidden = models.length > 0;
  $("models-none-match").hidden = !models.length || shown.length > 0;
  $("models").replaceChildren(...shown.map(modelItem));
}

export async function loadModels() {
  try {
    const { ok, body } = await api("GET", "/models");
    if (!ok) return;
    models = body.sort(newestFirst);
    renderModels();
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  }
}

/** Hides the model view: after a failed open nothing on screen belongs to another model. */
function closeModel() {
  current = null;
  $("model").hidden = true;
  for (const link of document.querySelectorAll("#models a")) link.removeAttribute("aria-current");
}

function showModelError(message) {
  $("model-error").textContent = message;
  $("model-error").hidden = !message;
}

/** Opens the model the URL names (`#/models/NAME`), or closes the view when it names none. */
export async function route() {
  const match = /^#\/models\/(.+)$/.exec(location.hash);
  if (!match) {
    closeModel();
    showModelError("");
    return;
  }
  const name = decodeURIComponent(match[1]);
  const ticket = ++openCount;
  let answer;
  try {
    answer = await api("GET", path(name));
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
    answer = { ok: false, body: { message: "the server cannot be reached" } };
  }
  if (ticket !== openCount) return;
  if (!answer.ok) {
    closeModel();
    showModelError(`Cannot open ${name}: ${messageOf(answer.body)}`);
    return;
  }
  showModelError("");
  show(answer.body);
}

/** Opens `name` through the URL, so that Back returns to the model before. */
export function openModel(name) {
  const hash = `#${path(name)}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

function show(model) {
  const changed = !current || current.name !== model.name;
  current = model;
  const base = path(model.name);
  $("model").hidden = false;
  $("model-title").textContent = model.name;
  $("model-title").title = model.name;
  $("model-facts").textContent = describe(model);
  $("model-download").href = `/download/${encodeURIComponent(model.name)}`;
  $("model-download").setAttribute("download", `${model.name}.npy`);
  $("model-map").src = `${base}/image.png`;
  $("model-umatrix").src = `${base}/umatrix.png`;
  const hasCurves = model.max_iterations != null;
  $("model-curves-figure").hidden = !hasCurves;
  if (hasCurves) $("model-curves").src = `${base}/curves.png`;
  else $("model-curves").removeAttribute("src");
  if (changed) fillFeatures(model);
  for (const link of document.querySelectorAll("#models a")) {
    if (link.dataset.name === model.name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (changed) {
    $("predict-result").hidden = true;
    $("predict-error").hidden = true;
    focusNode = [0, 0];
    prefillVectors(model);
    $("node-info").replaceChildren("Point at a node of the map, or focus the map and use the arrow keys.");
    showView(currentView());
    $("model").scrollIntoView({ block: "start" });
  }
}

/**
 * One vector of the model's dimension in "Place vectors": zeros at once, then the first
 * node's weights in data units once fetched (unless the user has typed meanwhile).
 */
function prefillVectors(model) {
  const box = $("predict-data");
  const zeros = JSON.stringify([Array.from({ length: model.dim || 0 }, () => 0)]);
  box.value = zeros;
  if (!tooLarge(model)) {
    weightsOf(model.name).then((weights) => {
      if (!weights || current !== model || box.value !== zeros) return;
      box.value = JSON.stringify([Array.from(weights.data.subarray(0, model.dim), (v) => Number(v.toPrecision(4)))]);
    });
  }
}

/** The feature names of `model`, "feature K" where it gives none. */
function featureNames(model) {
  const dim = model.dim || 0;
  const names = Array.isArray(model.feature_names) ? model.feature_names : [];
  return Array.from({ length: dim }, (_, k) => (typeof names[k] === "string" ? names[k] : `feature ${k}`));
}

function fillFeatures(model) {
  const picker = $("component-feature");
  picker.replaceChildren(...featureNames(model).map((name, k) => {
    const option = document.createElement("option");
    option.value = String(k);
    option.textContent = name;
    return option;
  }));
}

const currentView = () => document.querySelector('#views [aria-selected="true"]').dataset.view;

/** Shows one of the views (map, umatrix, components, hits, labels). */
function showView(view) {
  for (const tab of document.querySelectorAll("#views [role=tab]")) {
    const selected = tab.dataset.view === view;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $(`view-${tab.dataset.view}`).hidden = !selected;
  }
  if (!current) return;
  const base = path(current.name);
  if (view === "components") loadPicture("model-components", `${base}/components.png?feature=${$("component-feature").value || 0}`);
  if (view === "hits") loadPicture("model-hits", `${base}/hits.png`);
  if (view === "labels") loadPicture("model-labels", `${base}/labels.png`);
}

/** Loads a picture through the API, so that a refusal shows the server's reason. */
async function loadPicture(id, url) {
  const image = $(id);
  const note = $(`${id}-note`);
  note.hidden = true;
  // Only the answer to the last URL asked for this element is shown.
  image.dataset.want = url;
  try {
    const { ok, body, headers } = await api("GET", url, undefined, { binary: true });
    if (image.dataset.want !== url) return;
    if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
    if (ok) {
      image.dataset.scale = (headers && headers.get("x-scale")) || "";
      image.src = URL.createObjectURL(body);
      image.hidden = false;
    } else {
      image.removeAttribute("src");
      image.hidden = true;
      note.textContent = `Not available: ${messageOf(body)}`;
      note.hidden = false;
    }
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  }
}

/** The weights of a `.npy` (float64 or float32, little-endian, C order): {shape, data}. */
function readNpy(buffer) {
  const bytes = new Uint8Array(buffer);
  const headerLength = bytes[6] === 1 ? new DataView(buffer).getUint16(8, true) : new DataView(buffer).getUint32(8, true);
  const start = bytes[6] === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(",").filter((s) => s.trim()).map(Number);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const body = buffer.slice(start + headerLength);
  if (/fortran_order':\s*True/.test(header) || !/^[<|]f[48]$/.test(descr)) throw new Error(`unsupported .npy: ${descr}`);
  const data = descr.endsWith("8") ? new Float64Array(body) : new Float32Array(body);
  return { shape, data };
}

/** A failure is a thrown error or an answer other than 200 and 404 (a 404 is an answer:
 * the model has no such thing): it is not kept, so the next hover asks again. */
class Failed extends Error {}

function cached(cache, name, load) {
  if (!cache.has(name)) {
    cache.set(name, load().catch(() => {
      cache.delete(name);
      return null;
    }));
  }
  return cache.get(name);
}

/** The caches go when the server comes back: what failed or changed while it was away. */
export function forgetCaches() {
  weightsCache.clear();
  nodesCache.clear();
}

/** Weights are fetched for the node panel only up to this many values (16 MB of float64). */
const MAX_WEIGHT_VALUES = 2_000_000;
const tooLarge = (model) => !model.grid_shape || model.grid_shape[0] * model.grid_shape[1] * (model.dim || 0) > MAX_WEIGHT_VALUES;

const weightsOf = (name) => cached(weightsCache, name, async () => {
  const { ok, status, body } = await api("GET", `/download/${encodeURIComponent(name)}?units=data`, undefined, { buffer: true });
  if (!ok && status !== 404) throw new Failed();
  return ok ? readNpy(body) : null;
});

const nodesOf = (name) => cached(nodesCache, name, async () => {
  const { ok, status, body } = await api("GET", `${path(name)}/nodes`);
  if (!ok && status !== 404) throw new Failed();
  return ok ? body : null;
});

/**
 * What `GET /models/NAME/nodes` says of node [row, col]: its columns are indexed by
 * `row * cols + col`, and `majority_label` indexes `labels` (null where the node won no
 * labelled sample; the whole column null without labels). Without a summary: {}.
 */
function nodeFacts(nodes, row, col, cols) {
  if (!nodes) return {};
  const index = row * cols + col;
  const majority = Array.isArray(nodes.majority_label) ? nodes.majority_label[index] : null;
  const label = Number.isInteger(majority) && Array.isArray(nodes.labels) ? nodes.labels[majority] : null;
  return { hits: nodes.hits[index], label, distance: nodes.mean_distance[index] };
}

const shown = (value) => (value === undefined || value === null ? "—" : String(value));

async function inspect(row, col) {
  if (!current || !current.grid_shape) return;
  const model = current;
  const [rows, cols] = model.grid_shape;
  focusNode = [row, col];
  placeMarker(row, col);
  const large = tooLarge(model);
  const [weights, nodes] = await Promise.all([large ? null : weightsOf(model.name), nodesOf(model.name)]);
  if (current !== model || focusNode[0] !== row || focusNode[1] !== col) return;
  const names = featureNames(model);
  const dim = names.length;
  const values = weights && weights.data.length === rows * cols * dim
    ? Array.from(weights.data.subarray((row * cols + col) * dim, (row * cols + col + 1) * dim))
    : null;
  const facts = nodeFacts(nodes, row, col, cols);
  const list = document.createElement("dl");
  const add = (term, value, title) => {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (title) dd.title = title;
    list.append(dt, dd);
  };
  add("Node", `row ${row}, column ${col}`);
  add("Hits", shown(facts.hits));
  add("Label", shown(facts.label));
  const scaled = model.options && model.options.scaling && model.options.scaling !== "none";
  add(scaled ? "Mean distance (scaled units)" : "Mean distance", typeof facts.distance === "number" ? facts.distance.toPrecision(3) : "—");
  const why = large ? "the map is too large to fetch its weights here: download the .npy" : undefined;
  names.forEach((name, k) => add(name, values ? Number(values[k].toPrecision(4)).toString() : "—", why));
  $("node-info").replaceChildren(list);
}

const SQRT_3 = Math.sqrt(3);

/**
 * Where the map picture puts node [row, col], in node sizes: the box around it, and the
 * picture's width and height. A rectangular map is `cols x rows` squares; a hexagonal one
 * centres node (r, c) at (c + 1/2 + (r mod 2)/2, 1/sqrt(3) + r sqrt(3)/2) in a picture
 * (cols + 1/2) wide and (3 rows + 1) / (2 sqrt(3)) high (README, "Pictures"); `rowNear`
 * is the row nearest a height.
 */
function geometry(model) {
  const [rows, cols] = model.grid_shape;
  if (!(model.options && model.options.topology === "hexagonal")) {
    return {
      width: cols, height: rows, rowNear: Math.floor, box: (r, c) => ({ left: c, top: r, width: 1, height: 1 }),
    };
  }
  return {
    width: cols + 0.5,
    height: (3 * rows + 1) / (2 * SQRT_3),
    rowNear: (v) => Math.round((v - 1 / SQRT_3) / (SQRT_3 / 2)),
    box: (r, c) => ({ left: c + (r % 2) / 2, top: (r * SQRT_3) / 2, width: 1, height: 2 / SQRT_3 }),
  };
}

/** The node whose cell holds point (u, v), in node sizes from the map's top-left corner:
 * the nearest centre. */
function nodeAt(u, v) {
  const [rows, cols] = current.grid_shape;
  const shape = geometry(current);
  let best = [0, 0];
  let nearest = Infinity;
  const guess = shape.rowNear(v);
  for (let r = Math.max(0, guess - 1); r <= Math.min(rows - 1, guess + 1); r += 1) {
    const cell = shape.box(r, 0);
    const c = Math.min(cols - 1, Math.max(0, Math.floor(u - cell.left)));
    for (const col of [c - 1, c, c + 1].filter((k) => k >= 0 && k < cols)) {
      const centre = shape.box(r, col);
      const distance = (u - centre.left - centre.width / 2) ** 2 + (v - centre.top - centre.height / 2) ** 2;
      if (distance < nearest) {
        nearest = distance;
        best = [r, col];
      }
    }
  }
  return best;
}

function placeMarker(row, col) {
  const shape = geometry(current);
  const cell = shape.box(row, col);
  const marker = $("node-marker");
  marker.hidden = false;
  marker.style.left = `${(cell.left / shape.width) * 100}%`;
  marker.style.top = `${(cell.top / shape.height) * 100}%`;
  marker.style.width = `${(cell.width / shape.width) * 100}%`;
  marker.style.height = `${(cell.height / shape.height) * 100}%`;
}

const ARROWS = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

async function predict(event) {
  event.preventDefault();
  $("predict-error").hidden = true;
  let vectors;
  try {
    vectors = readTable($("predict-data").value).rows.map((row) => row.map(Number));
  } catch (err) {
    $("predict-error").textContent = err.message;
    $("predict-error").hidden = false;
    return;
  }
  const name = current.name;
  const stillOpen = () => current && current.name === name;
  try {
    const { ok, body } = await api("POST", "/predict", { model_name: name, test_data: vectors });
    if (!stillOpen()) return;
    const picture = ok
      ? await api("POST", `${path(name)}/predictions.png`, { test_data: vectors }, { binary: true })
      : { ok: false, body };
    if (!stillOpen()) return;
    if (!picture.ok) {
      $("predict-error").textContent = messageOf(picture.body);
      $("predict-error").hidden = false;
      return;
    }
    const image = $("predict-picture");
    if (image.src.startsWith("blob:")) URL.revokeObjectURL(image.src);
    image.src = URL.createObjectURL(picture.body);
    $("predict-list").replaceChildren(...body.predictions.map(([row, col], index) => {
      const item = document.createElement("li");
      const extra = [];
      if (Array.isArray(body.distances)) extra.push(`distance ${Number(body.distances[index]).toPrecision(3)}`);
      if (Array.isArray(body.labels)) extra.push(`label ${shown(body.labels[index])}`);
      item.textContent = `[${vectors[index].join(", ")}] → row ${row}, column ${col}${extra.length ? ` (${extra.join(", ")})` : ""}`;
      return item;
    }));
    $("predict-result").hidden = false;
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  }
}

async function deleteSelected() {
  if (!current || !window.confirm(`Delete ${current.name}?`)) return;
  const { ok, body } = await api("DELETE", path(current.name));
  if (!ok) return window.alert(messageOf(body));
  weightsCache.delete(current.name);
  nodesCache.delete(current.name);
  location.hash = "";
  await loadModels();
}

/** Wires the list, the URL, the views, the inspector and the prediction form. */
export function startModels() {
  $("model-search").addEventListener("input", renderModels);
  window.addEventListener("hashchange", route);
  $("model-delete").addEventListener("click", deleteSelected);
  $("predict-form").addEventListener("submit", predict);
  const tabs = [...document.querySelectorAll("#views [role=tab]")];
  for (const tab of tabs) {
    tab.addEventListener("click", () => showView(tab.dataset.view));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowLeft: -1, ArrowRight: 1 }[event.key];
      if (!step) return;
      const next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
      next.focus();
      showView(next.dataset.view);
    });
  }
  $("component-feature").addEventListener("change", () => showView("components"));
  const map = $("map-area");
  map.addEventListener("mousemove", (event) => {
    if (!current || !current.grid_shape) return;
    const box = $("model-map").getBoundingClientRect();
    const shape = geometry(current);
    const [row, col] = nodeAt(((event.clientX - box.left) / box.width) * shape.width, ((event.clientY - box.top) / box.height) * shape.height);
    if (row !== focusNode[0] || col !== focusNode[1] || $("node-marker").hidden) inspect(row, col);
  });
  // The hits and labels pictures lay the map out like image.png from their top-left corner,
  // X-Scale pixels per node, with a legend beside it: a point past the map is no node.
  for (const id of ["model-hits", "model-labels"]) {
    const image = $(id);
    image.addEventListener("mousemove", (event) => {
      const scale = Number(image.dataset.scale);
      if (!current || !current.grid_shape || !scale || !image.naturalWidth) return;
      const box = image.getBoundingClientRect();
      const pixels = image.naturalWidth / box.width;
      const u = ((event.clientX - box.left) * pixels) / scale;
      const v = ((event.clientY - box.top) * pixels) / scale;
      const shape = geometry(current);
      if (u < 0 || v < 0 || u >= shape.width || v >= shape.height) return;
      const [row, col] = nodeAt(u, v);
      if (row !== focusNode[0] || col !== focusNode[1]) inspect(row, col);
    });
  }
  for (const area of [map, $("model-hits"), $("model-labels")]) {
    area.addEventListener("focus", () => inspect(...focusNode));
    area.addEventListener("keydown", (event) => {
      const move = ARROWS[event.key];
      if (!move || !current || !current.grid_shape) return;
      event.preventDefault();
      const [rows, cols] = current.grid_shape;
      inspect(Math.min(rows - 1, Math.max(0, focusNode[0] + move[0])), Math.min(cols - 1, Math.max(0, focusNode[1] + move[1])));
    });
  }
}
