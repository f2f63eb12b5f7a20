// The page talks to the public API only: /models, /train, /atrain, /jobs, /datasets, /predict,
// the pictures under /models/NAME/, PUT /models/NAME for .npy imports. This module wires the
// training and import forms; the others own the API calls, the data, the options, the jobs
// and the models.

import { api, messageOf, onRecovery, Unreachable, upload } from "./api.js";
import {
  DATASET_BYTES, SAMPLE_COLOURS, columnNames, likelyLabelColumn, peekLargeCsv, readTable,
  summary, trainingFields,
} from "./data.js";
import { follow, refresh, startJobs } from "./jobs.js";
import { forgetCaches, loadModels, openModel, route, startModels } from "./models.js";
import { buildOptions, clearFieldErrors, optionFields, showApiError, showFieldError } from "./options.js";

const $ = (id) => document.getElementById(id);
const source = () => document.querySelector('input[name="source"]:checked').value;
const choose = (value) => {
  document.querySelector(`input[name="source"][value="${value}"]`).checked = true;
  describeData();
};

/** What the chosen CSV or pasted text holds, read once per change: {table | large, file}. */
let described = null;
let pasteTimer = null;
/** Increases with every read, so that a slow file's answer never replaces a newer one's. */
let describeCount = 0;
/** The dataset each large file was uploaded as, per label column: a second Train reuses it. */
const uploaded = new WeakMap();

function numberOrText(id) {
  const value = $(id).value.trim();
  if (value === "") return undefined;
  const number = Number(value);
  return Number.isNaN(number) ? value : number;
}

function fillLabelColumns(names, preselect) {
  const picker = $("label-column");
  const none = document.createElement("option");
  none.value = "-1";
  none.textContent = "none: every column is a feature";
  picker.replaceChildren(none, ...names.map((name, k) => {
    const option = document.createElement("option");
    option.value = String(k);
    option.textContent = name;
    return option;
  }));
  picker.value = String(preselect);
  $("label-column-box").hidden = false;
}

/** Reads the pasted text or the chosen file and says what it holds, before any training. */
async function describeData() {
  const ticket = ++describeCount;
  described = null;
  $("data-summary").textContent = "";
  $("label-column-box").hidden = true;
  $("error-training_data").hidden = true;
  const kind = source();
  try {
    if (kind === "paste" && $("train-paste").value.trim()) {
      const table = readTable($("train-paste").value);
      described = { table };
    } else if (kind === "file" && $("train-file").files[0]) {
      const file = $("train-file").files[0];
      if (file.size > DATASET_BYTES) {
        if (!/\.csv$|\.txt$/i.test(file.name)) throw new Error("a file over 8 MB must be CSV: it is uploaded as a dataset");
        $("data-summary").textContent = "Counting rows…";
        const peek = await peekLargeCsv(file);
        if (ticket !== describeCount) return;
        described = { table: peek.table, large: peek, file };
        $("data-summary").textContent = `${summary(peek.rows, peek.width, peek.header)} (uploaded as a dataset, ${(file.size / 1048576).toFixed(1)} MB)`;
        if (peek.header) fillLabelColumns(peek.header, likelyLabelColumn(peek.table));
        return;
      }
      const text = await file.text();
      if (ticket !== describeCount) return;
      described = { table: readTable(text) };
    }
  } catch (err) {
    if (ticket !== describeCount) return;
    showFieldError("training_data", err.message);
    return;
  }
  if (!described) return;
  const { table } = described;
  const names = columnNames(table);
  $("data-summary").textContent = summary(table.rows.length, names.length, table.header);
  fillLabelColumns(names, likelyLabelColumn(table));
}

function randomColours(count) {
  return Array.from({ length: count }, () => [Math.random(), Math.random(), Math.random()]);
}

/** Uploads the large file as a dataset with a progress bar; resolves to its name or null. */
async function uploadDataset(file, labelColumn) {
  const stem = file.name.replace(/\.[^.]*$/, "").replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^[-_]+/, "") || "data";
  const name = `${stem.slice(0, 150)}-${Date.now().toString(36)}`;
  const query = labelColumn ? `?label_column=${encodeURIComponent(labelColumn)}` : "";
  const bar = $("upload-progress");
  bar.hidden = false;
  bar.value = 0;
  $("upload-status").textContent = `Uploading ${file.name}…`;
  let answer;
  try {
    answer = await upload(`/datasets/${encodeURIComponent(name)}${query}`, file, (fraction) => {
      bar.value = fraction;
    });
  } catch (err) {
    bar.hidden = true;
    $("upload-status").textContent = "The upload stopped: the server cannot be reached. Train again when it is back.";
    throw err;
  }
  if (!answer.ok) {
    $("upload-status").textContent = "";
    bar.hidden = true;
    showApiError(answer.body);
    return null;
  }
  $("upload-status").textContent = `Uploaded as dataset ${name}: ${answer.body.rows} rows x ${answer.body.dim} features`;
  return name;
}

/**
 * Whether the grid and the iterations are whole numbers of at least 1, checked before a large
 * file is uploaded (the server checks everything else); says what is wrong if not.
 */
function formLooksValid() {
  const whole = (id) => Number.isInteger(numberOrText(id)) && numberOrText(id) >= 1;
  if (!whole("grid-rows") || !whole("grid-cols")) {
    showFieldError("grid_shape", "the grid needs whole numbers of rows and columns, at least 1 each");
    return false;
  }
  if (!whole("iterations")) {
    showFieldError("max_iterations", "the iterations must be a whole number, at least 1");
    return false;
  }
  return true;
}

/** The data fields of the training request, or null after saying what is wrong. */
async function dataFields() {
  const kind = source();
  if (kind === "samples") return { training_data: SAMPLE_COLOURS };
  if (kind === "random") return { training_data: randomColours(Number($("random-count").value) || 0) };
  if (kind === "paste") {
    // Text typed within the last moment has not been read yet.
    clearTimeout(pasteTimer);
    await describeData();
  }
  if (!described) {
    const missing = kind === "paste" ? "paste rows of numbers first" : "choose a file first";
    showFieldError("training_data", missing);
    return null;
  }
  const labelColumn = $("label-column-box").hidden ? -1 : Number($("label-column").value);
  if (described.large) {
    if (!formLooksValid()) return null;
    const label = labelColumn >= 0 ? described.large.header[labelColumn] : null;
    const { file } = described;
    if (!uploaded.has(file)) uploaded.set(file, new Map());
    const known = uploaded.get(file).get(label);
    if (known) return { dataset: known };
    const dataset = await uploadDataset(file, label);
    if (dataset) uploaded.get(file).set(label, dataset);
    return dataset ? { dataset } : null;
  }
  return trainingFields(described.table, labelColumn);
}

async function train(event) {
  event.preventDefault();
  clearFieldErrors();
  const submit = $("train-submit");
  submit.disabled = true;
  try {
    let fields;
    try {
      fields = await dataFields();
    } catch (err) {
      if (err instanceof Unreachable) return;
      showFieldError("training_data", err.message);
      return;
    }
    if (!fields) return;
    const request = {
      ...fields,
      grid_shape: [numberOrText("grid-rows"), numberOrText("grid-cols")],
      max_iterations: numberOrText("iterations"),
      ...optionFields(),
    };
    if (!$("learning-rate").disabled) request.learning_rate = numberOrText("learning-rate");
    const seed = numberOrText("seed");
    if (seed !== undefined) request.seed = seed;
    const background = $("background").checked;
    const { ok, body } = await api("POST", background ? "/atrain" : "/train", request);
    if (!ok) return showApiError(body);
    const name = body["operation-location"];
    if (background) {
      follow(name);
    } else {
      await loadModels();
      refresh();
      openModel(name);
    }
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  } finally {
    submit.disabled = false;
  }
}

/** Imports a trained map (.npy) under the name given: its own form, not the Train button. */
async function importNpy(event) {
  event.preventDefault();
  for (const id of ["error-import-name", "error-import-file"]) $(id).hidden = true;
  const fail = (id, input, message) => {
    $(id).textContent = message;
    $(id).hidden = false;
    $(input).setAttribute("aria-invalid", "true");
    $(input).focus();
  };
  $("import-name").removeAttribute("aria-invalid");
  $("import-file").removeAttribute("aria-invalid");
  const file = $("import-file").files[0];
  if (!file) return fail("error-import-file", "import-file", "choose a .npy file");
  const name = $("import-name").value.trim();
  if (!name) return fail("error-import-name", "import-name", "give the imported map a name");
  try {
    const { ok, body } = await api("PUT", `/models/${encodeURIComponent(name)}`, await file.arrayBuffer(), { raw: true });
    if (!ok) {
      const about = body && (body.code === "invalid_name" || body.code === "conflict") ? "name" : "file";
      return fail(`error-import-${about}`, `import-${about}`, messageOf(body));
    }
    await loadModels();
    openModel(body.name);
  } catch (err) {
    if (!(err instanceof Unreachable)) throw err;
  }
}

buildOptions();
$("train-form").addEventListener("submit", train);
$("import-form").addEventListener("submit", importNpy);
for (const radio of document.querySelectorAll('input[name="source"]')) {
  radio.addEventListener("change", describeData);
}
// Typing, pasting or choosing a file is a choice of that source; moving through (Tab) is not.
$("train-paste").addEventListener("input", () => {
  // Read once typing pauses, not at every key of a long paste.
  document.querySelector('input[name="source"][value="paste"]').checked = true;
  clearTimeout(pasteTimer);
  pasteTimer = setTimeout(describeData, 200);
});
$("random-count").addEventListener("input", () => choose("random"));
$("train-file").addEventListener("change", () => choose("file"));
onRecovery(() => {
  forgetCaches();
  loadModels();
  refresh();
  route();
});
startModels();
startJobs((name) => {
  loadModels();
  openModel(name);
});
loadModels().then(route);
