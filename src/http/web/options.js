// The training options of SPEC §3b as form fields, and the one place that puts a message
// beside the field it is about (the server's 422s as well as the page's own checks).

const $ = (id) => document.getElementById(id);

/** Every option of SPEC §3b: its field, kind, values (the first is the server's default) and help. */
const OPTIONS = [
  { field: "mode", values: ["online", "batch"], help: "Online moves the map one sample at a time; batch averages every sample per iteration (no learning rate)." },
  { field: "topology", values: ["rectangular", "hexagonal"], help: "How nodes sit: a square grid (8 neighbours) or hexagons (6)." },
  { field: "toroidal", kind: "checkbox", help: "The grid wraps around at its edges (hexagonal needs an even number of rows)." },
  { field: "neighbourhood", values: ["gaussian", "gaussian-full", "bubble", "triangle", "epanechnikov", "mexican-hat"], help: "How much the winner's neighbours move with it; mexican-hat is online only." },
  { field: "radius", kind: "number", help: "Starting radius of the neighbourhood; default half the grid's longer side." },
  { field: "schedule", values: ["exponential", "linear", "inverse"], help: "How the radius and learning rate shrink over the iterations." },
  { field: "final_radius", kind: "number", help: "Last radius, linear schedule only; default min(1, radius)." },
  { field: "final_learning_rate", kind: "number", help: "Last learning rate, linear schedule only; default a hundredth of the first." },
  { field: "distance", values: ["euclidean", "manhattan", "cosine"], help: "How far a vector is from a node, for training, prediction and errors." },
  { field: "init", values: ["random", "sample", "pca"], help: "Starting weights: random, copies of training rows, or the data's two main axes." },
  { field: "order", values: ["given", "shuffled"], help: "The order samples are shown in each iteration (online only)." },
  { field: "scaling", values: ["none", "standard", "minmax"], help: "Scale each feature before training (pictures stay in data units)." },
  { field: "compatibility", values: ["", "python-service"], help: "Train exactly as the Python service did; fixes neighbourhood, schedule and radius." },
];

/** The form's own fields: where each request field is typed. */
const FORM_FIELDS = {
  training_data: "train-paste",
  grid_shape: "grid-rows",
  max_iterations: "iterations",
  learning_rate: "learning-rate",
  seed: "seed",
  labels: "label-column",
};

/** The request field each error code of the API is about (invalid_option names its field
 * in its message instead). */
const FIELD_OF_CODE = {
  invalid_grid_shape: "grid_shape", too_large: "grid_shape", invalid_iterations: "max_iterations",
  invalid_learning_rate: "learning_rate", invalid_seed: "seed", invalid_data: "training_data",
  shape_mismatch: "training_data", non_finite_value: "training_data", dataset_not_found: "training_data",
  invalid_labels: "labels", invalid_feature_names: "training_data",
};

const inputOf = (field) => $(FORM_FIELDS[field] || `opt-${field}`);
const errorOf = (field) => $(`error-${field}`);

/** Builds the option fields inside `#options-fields`. */
export function buildOptions() {
  const container = $("options-fields");
  for (const option of OPTIONS) {
    const box = document.createElement("div");
    const id = `opt-${option.field}`;
    const label = document.createElement("label");
    label.htmlFor = id;
    label.textContent = option.field.replace(/_/g, " ");
    let input;
    if (option.kind === "checkbox") {
      input = document.createElement("input");
      input.type = "checkbox";
      label.prepend(input);
    } else if (option.kind === "number") {
      input = document.createElement("input");
      input.type = "number";
      input.step = "any";
      input.min = "0";
      input.placeholder = "default";
    } else {
      input = document.createElement("select");
      option.values.forEach((value, index) => {
        const choice = document.createElement("option");
        choice.value = index === 0 ? "" : value;
        choice.textContent = index === 0 ? `${value || "none"} (default)` : value;
        input.append(choice);
      });
    }
    input.id = id;
    const help = document.createElement("small");
    help.id = `help-${option.field}`;
    help.className = "help";
    help.textContent = option.help;
    const error = document.createElement("p");
    error.id = `error-${option.field}`;
    error.className = "error";
    error.hidden = true;
    input.setAttribute("aria-describedby", help.id);
    box.append(label);
    if (option.kind !== "checkbox") box.append(input);
    box.append(help, error);
    container.append(box);
  }
  $("opt-mode").addEventListener("change", () => {
    // Batch mode has no learning rate: the field is left out rather than sent and refused.
    $("learning-rate").disabled = $("opt-mode").value === "batch";
  });
}

/** The options the user set, as request fields (unset ones are left to the server). */
export function optionFields() {
  const fields = {};
  for (const option of OPTIONS) {
    const input = $(`opt-${option.field}`);
    if (option.kind === "checkbox") {
      if (input.checked) fields[option.field] = true;
    } else if (input.value.trim() !== "") {
      fields[option.field] = option.kind === "number" ? Number(input.value) : input.value;
    }
  }
  return fields;
}

/** Shows `message` beside `field`'s input, marked invalid and described by the message. */
export function showFieldError(field, message) {
  const error = errorOf(field) || $("error-form");
  error.textContent = message;
  error.hidden = false;
  const input = inputOf(field);
  if (!input || error.id === "error-form") return;
  input.setAttribute("aria-invalid", "true");
  const help = $(`help-${field}`);
  input.setAttribute("aria-describedby", [help && help.id, error.id].filter(Boolean).join(" "));
  const details = input.closest("details");
  if (details) details.open = true;
  input.focus();
}

/** Removes every message of the training form and the marks that went with them. */
export function clearFieldErrors() {
  for (const error of document.querySelectorAll("#train-form .error")) {
    error.textContent = "";
    error.hidden = true;
  }
  for (const input of document.querySelectorAll('#train-form [aria-invalid="true"]')) {
    input.removeAttribute("aria-invalid");
    const help = $(`help-${input.id.replace(/^opt-/, "")}`);
    if (help) input.setAttribute("aria-describedby", help.id);
    else input.removeAttribute("aria-describedby");
  }
}

/**
 * The request field a 422 is about: the answer's `field` if it has one; else the field its
 * message starts with or quotes ("the field \"seed\" must be ..."); else its code's field;
 * for `invalid_option`, the field it says to leave out, then any other it names, "mode" last
 * since messages mention it as the way out.
 */
function fieldOfError(body) {
  if (!body || typeof body !== "object") return "form";
  if (typeof body.field === "string") return body.field;
  const message = body.message || "";
  const known = OPTIONS.map((option) => option.field).concat(Object.keys(FORM_FIELDS));
  const starts = known.find((field) => message.startsWith(`${field} `));
  if (starts) return starts;
  const quoted = /the field "(\w+)"/.exec(message);
  if (quoted && known.includes(quoted[1])) return quoted[1];
  if (body.code !== "invalid_option") return FIELD_OF_CODE[body.code] || "form";
  const leaveOut = /leave out (\w+)/.exec(message);
  if (leaveOut && known.includes(leaveOut[1])) return leaveOut[1];
  if (/"pca"/.test(message)) return "init";
  const named = known.filter((field) => field !== "mode" && new RegExp(`\\b${field}\\b`).test(message));
  if (named.length) return named[0];
  return /\bmode\b/.test(message) ? "mode" : "form";
}

/** Puts the server's error answer beside the field it is about. */
export function showApiError(body) {
  const message = body && body.message ? body.message : String(body);
  showFieldError(fieldOfError(body), message);
}
