/**
 * Your own data for the lab: a CSV file of numeric features and one label column, read into a
 * classification set. The label column is the one whose header is `label`, `y` or `target` (any
 * case), else the last one. Labels may be numbers or names; classes are numbered in sorted order
 * (numerically when every label is a number). A first row with a cell that is not a number is a
 * header. Commas separate cells, or semicolons or tabs when the first line has no comma; cells may
 * be quoted. Every error names the line and the column (both counted from 1).
 */

export interface CsvData {
  /** n rows of `features` values, back to back. */
  readonly x: Float32Array;
  /** Class index of each row. */
  readonly y: Int32Array;
  readonly n: number;
  readonly features: number;
  /** Class names, by index. */
  readonly classes: string[];
  /** Feature column names (from the header, else `x1`, `x2`, ...). */
  readonly featureNames: string[];
  readonly labelName: string;
}

/** Header names of a label column, the first found wins. */
const LABEL_NAMES = ['label', 'target', 'y'];

function delimiterOf(line: string): string {
  if (line.includes(',')) return ',';
  if (line.includes(';')) return ';';
  if (line.includes('\t')) return '\t';
  return ',';
}

/** The cells of one line; quotes may hold the delimiter, and "" is a quote inside quotes. */
function cells(line: string, delimiter: string, lineNo: number): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (line[i] === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`line ${lineNo}, column ${out.length + 1}: a quote opened at character ${start + 1} is never closed`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += line[i++];
      }
      const end = line.indexOf(delimiter, i);
      const rest = (end < 0 ? line.slice(i) : line.slice(i, end)).trim();
      if (rest) throw new Error(`line ${lineNo}, column ${out.length + 1}: unexpected '${rest}' after a quoted cell`);
      i = end < 0 ? line.length : end;
    } else {
      const end = line.indexOf(delimiter, i);
      cell = end < 0 ? line.slice(i) : line.slice(i, end);
      i = end < 0 ? line.length : end;
    }
    out.push(cell.trim());
    if (i >= line.length) return out;
    i += delimiter.length;
  }
}

const isNumber = (s: string) => s !== '' && Number.isFinite(Number(s));

/** Parses a CSV text; throws an Error naming the line and column of the first bad cell. */
export function parseCsv(text: string): CsvData {
  const lines = text.split(/\r\n|\n|\r/);
  const rows: { no: number; cells: string[] }[] = [];
  let delimiter = '';
  for (let k = 0; k < lines.length; k++) {
    const line = lines[k]!;
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    delimiter ||= delimiterOf(line);
    rows.push({ no: k + 1, cells: cells(line, delimiter, k + 1) });
  }
  if (rows.length === 0) throw new Error('the file holds no rows');
  const first = rows[0]!;
  // Labels may be names, so a first row is a header when a cell other than the last is not a
  // number, or when it names a label column.
  const isHeader = first.cells.some((c, k) => (k < first.cells.length - 1 && !isNumber(c)) || LABEL_NAMES.includes(c.toLowerCase()));
  const header = isHeader ? first.cells : null;
  const data = header ? rows.slice(1) : rows;
  const width = first.cells.length;
  if (width < 2) throw new Error(`line ${first.no}: a row needs at least one feature and a label, found ${width} column${width === 1 ? '' : 's'}`);
  if (data.length < 2) throw new Error(`the file holds ${data.length} data row${data.length === 1 ? '' : 's'}; training and a held-out part need at least 2`);
  if (header) {
    const seen = new Set<string>();
    header.forEach((h, c) => {
      if (h === '') throw new Error(`line ${first.no}, column ${c + 1}: the header cell is empty`);
      if (seen.has(h)) throw new Error(`line ${first.no}, column ${c + 1}: the header '${h}' appears twice`);
      seen.add(h);
    });
  }
  const lower = header?.map((h) => h.toLowerCase()) ?? [];
  const named = LABEL_NAMES.map((name) => lower.indexOf(name)).find((k) => k >= 0) ?? -1;
  const label = named >= 0 ? named : width - 1;
  const features = width - 1;
  const n = data.length;
  const x = new Float32Array(n * features);
  const labels: string[] = new Array<string>(n);
  data.forEach(({ no, cells: row }, i) => {
    if (row.length !== width) {
      throw new Error(`line ${no}: ${row.length} column${row.length === 1 ? '' : 's'}, expected ${width} as on line ${first.no}`);
    }
    let f = 0;
    row.forEach((cell, c) => {
      if (c === label) {
        if (cell === '') throw new Error(`line ${no}, column ${c + 1}: the label is empty`);
        labels[i] = cell;
        return;
      }
      if (!isNumber(cell)) {
        const name = header ? ` ('${header[c]}')` : '';
        throw new Error(`line ${no}, column ${c + 1}${name}: ${cell === '' ? 'the cell is empty' : `'${cell}' is not a number`}`);
      }
      x[i * features + f++] = Number(cell);
    });
  });
  const names = [...new Set(labels)];
  if (names.every(isNumber)) names.sort((a, b) => Number(a) - Number(b));
  else names.sort();
  if (names.length < 2) throw new Error(`the label column (column ${label + 1}) holds only one class, '${names[0]}'; a classifier needs two or more`);
  const index = new Map(names.map((name, k) => [name, k]));
  const y = Int32Array.from(labels, (l) => index.get(l)!);
  const featureNames = header ? header.filter((_, c) => c !== label) : Array.from({ length: features }, (_, k) => `x${k + 1}`);
  return { x, y, n, features, classes: names, featureNames, labelName: header ? header[label]! : `column ${label + 1}` };
}

/**
 * Splits rows into training and held-out parts (every fifth row of a seeded shuffle held out, at
 * least one) and standardises each feature by the training part's mean and deviation, so that
 * features on any scale train at the lab's rates.
 */
export function splitCsv(d: CsvData, seed: number): { train: { x: Float32Array; y: Int32Array; n: number }; test: { x: Float32Array; y: Int32Array; n: number } } {
  const order = Array.from({ length: d.n }, (_, i) => i);
  let s = seed >>> 0 || 1;
  for (let i = order.length - 1; i > 0; i--) {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    const j = s % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const held = d.n >= 2 ? Math.max(1, Math.floor(d.n / 5)) : 0;
  const parts = [order.slice(held), order.slice(0, held)];
  const f = d.features;
  const mean = new Float64Array(f);
  const sd = new Float64Array(f);
  const trainRows = parts[0]!;
  for (const r of trainRows) for (let k = 0; k < f; k++) mean[k]! += d.x[r * f + k]! / trainRows.length;
  for (const r of trainRows) for (let k = 0; k < f; k++) sd[k]! += (d.x[r * f + k]! - mean[k]!) ** 2 / trainRows.length;
  for (let k = 0; k < f; k++) sd[k] = Math.sqrt(sd[k]!) || 1;
  const [train, test] = parts.map((rows) => {
    const x = new Float32Array(rows.length * f);
    const y = new Int32Array(rows.length);
    rows.forEach((r, i) => {
      for (let k = 0; k < f; k++) x[i * f + k] = (d.x[r * f + k]! - mean[k]!) / sd[k]!;
      y[i] = d.y[r]!;
    });
    return { x, y, n: rows.length };
  });
  return { train: train!, test: test! };
}
