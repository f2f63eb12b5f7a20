// Training data as the user gives it: CSV (an optional header row) or a JSON array of rows,
// read into a table of text cells first, so that the page can say what it found and let the
// user pick a label column before anything is sent.

/** Files larger than this are uploaded as a dataset (streamed, with progress) instead of
 * being parsed here and sent inside the JSON of /train. */
export const DATASET_BYTES = 8 * 1024 * 1024;

/** The 10 sample colours of the original service (SAMPLE_COLOURS in src/som/mod.rs). */
export const SAMPLE_COLOURS = [
  [0.09803922, 0.78823529, 0.27058824], [0.17254902, 0.8745098, 0.18823529],
  [0.82352941, 0.6, 0.49411765], [0.83529412, 0.56078431, 0.65098039],
  [0.85098039, 0.74509804, 0.54509804], [0.06666667, 0.3254902, 0.63529412],
  [0.1254902, 0.56470588, 0.09411765], [0.82352941, 0.00392157, 0.61176471],
  [0.91764706, 0.85882353, 0.70980392], [0.38039216, 0.68627451, 0.70980392],
];

const isNumber = (cell) => cell.trim() !== "" && !Number.isNaN(Number(cell));

/** The delimiter of a CSV line: the first of tab, `;` and `,` it holds, else runs of spaces. */
function delimiterOf(line) {
  for (const candidate of ["\t", ";", ","]) if (line.includes(candidate)) return candidate;
  return /\s+/;
}

/** Splits CSV lines; a field in double quotes may hold the delimiter. */
function splitLine(line, delimiter) {
  if (typeof delimiter !== "string" || !line.includes('"')) {
    return line.split(delimiter).map((cell) => cell.trim());
  }
  const cells = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const char = line[i];
    if (char === '"' && quoted && line[i + 1] === '"') {
      cell += '"';
      i += 1;
    } else if (char === '"') {
      quoted = !quoted;
    } else if (char === delimiter && !quoted) {
      cells.push(cell.trim());
      cell = "";
    } else {
      cell += char;
    }
  }
  cells.push(cell.trim());
  return cells;
}

/**
 * Reads CSV or JSON text into `{header, rows}`: `header` the column names when the first CSV
 * row has no number in it (else null), `rows` arrays of text cells of equal length.
 */
export function readTable(text) {
  const trimmed = text.trim();
  if (!trimmed) throw new Error("there is no data: paste rows of numbers");
  if (trimmed.startsWith("[")) {
    let rows;
    try {
      rows = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`this is not valid JSON: ${err.message}`);
    }
    if (!Array.isArray(rows) || !rows.every(Array.isArray)) {
      throw new Error("the JSON must be an array of rows, e.g. [[1, 0, 0], [0, 1, 0]]");
    }
    return checkWidths({ header: null, rows: rows.map((row) => row.map(String)) });
  }
  const lines = trimmed.split(/\r?\n/).filter((line) => line.trim());
  const delimiter = delimiterOf(lines[0]);
  const rows = lines.map((line) => splitLine(line.trim(), delimiter));
  const header = rows[0].some(isNumber) ? null : rows.shift();
  if (!rows.length) throw new Error("there is a header but no rows of data under it");
  return checkWidths({ header, rows });
}

function checkWidths(table) {
  const width = table.header ? table.header.length : table.rows[0].length;
  const ragged = table.rows.findIndex((row) => row.length !== width);
  if (ragged >= 0) {
    throw new Error(`row ${ragged + 1} has ${table.rows[ragged].length} values, the first has ${width}`);
  }
  return table;
}

/** Each column's name: the header's, or "column K" (from 1). */
export function columnNames(table) {
  const width = table.header ? table.header.length : table.rows[0].length;
  return Array.from({ length: width }, (_, k) => (table.header ? table.header[k] : `column ${k + 1}`));
}

/** The first column holding something that is not a number: likely the labels. */
export function likelyLabelColumn(table) {
  const width = columnNames(table).length;
  for (let k = 0; k < width; k += 1) {
    if (table.rows.some((row) => !isNumber(row[k]))) return k;
  }
  return -1;
}

/** "N rows x D columns, header: a, b, c" (or "no header"). */
export function summary(rows, width, header) {
  const head = header ? `header: ${header.join(", ")}` : "no header";
  return `${rows} rows x ${width} columns, ${head}`;
}

/**
 * The fields of a training request for `table` with column `labelColumn` (-1: none) kept as
 * the rows' labels: `training_data`, and `labels` and `feature_names` when known.
 */
export function trainingFields(table, labelColumn) {
  const names = columnNames(table);
  const features = names.map((_, k) => k).filter((k) => k !== labelColumn);
  if (!features.length) throw new Error("the label column is the only column: there are no features left to train on");
  const data = table.rows.map((row, r) => features.map((k) => {
    if (!isNumber(row[k])) {
      throw new Error(`row ${r + 1}, column ${names[k]} is not a number: "${row[k]}" (pick it as the label column if it names a class)`);
    }
    return Number(row[k]);
  }));
  const fields = { training_data: data };
  if (labelColumn >= 0) fields.labels = table.rows.map((row) => row[labelColumn]);
  if (table.header) {
    const featureNames = features.map((k) => names[k]);
    if (acceptableNames(featureNames)) fields.feature_names = featureNames;
  }
  return fields;
}

/** Whether the server would take `names` as feature names: each non-empty, at most 100
 * characters, and no two alike (else the columns stay unnamed rather than the request fail). */
export function acceptableNames(names) {
  return names.every((name) => name !== "" && [...name].length <= 100) && new Set(names).size === names.length;
}

/**
 * What a large CSV file holds without reading it into memory at once: its header (from the
 * first 64 KiB) and its rows, counted line by line as the file streams.
 */
export async function peekLargeCsv(file) {
  const head = await file.slice(0, 64 * 1024).text();
  const firstLines = head.split(/\r?\n/).filter((line) => line.trim()).slice(0, 2);
  if (!firstLines.length) throw new Error("the file is empty");
  const table = readTable(firstLines.join("\n"));
  let lines = 0;
  let last = 10;
  const reader = file.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    for (const byte of value) if (byte === 10) lines += 1;
    if (value.length) last = value[value.length - 1];
  }
  if (last !== 10) lines += 1;
  return { header: table.header, width: columnNames(table).length, rows: lines - (table.header ? 1 : 0), table };
}
