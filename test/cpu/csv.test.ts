/**
 * The lab's CSV reader (demo/src/csv.ts): features and labels, the label column by header name or
 * last, headers, delimiters, quotes, class numbering, and errors that name the line and column.
 */
import { describe, expect, it } from 'vitest';
import { parseCsv, splitCsv } from '../../demo/src/csv.js';

describe('parseCsv', () => {
  it('reads features and takes the last column as the label when there is no header', () => {
    const d = parseCsv('1,2,0\n3,4.5,1\n-5,6e-1,1\n');
    expect(d.n).toBe(3);
    expect(d.features).toBe(2);
    expect(Array.from(d.x)).toEqual([1, 2, 3, 4.5, -5, Math.fround(0.6)]);
    expect(Array.from(d.y)).toEqual([0, 1, 1]);
    expect(d.classes).toEqual(['0', '1']);
    expect(d.featureNames).toEqual(['x1', 'x2']);
    expect(d.labelName).toBe('column 3');
  });

  it('prefers a column named label, then target, then y', () => {
    expect(parseCsv('y,target,label,z\n1,2,a,3\n4,5,b,6\n').labelName).toBe('label');
    expect(parseCsv('y,target,z\n1,a,3\n4,b,6\n').labelName).toBe('target');
  });

  it('takes a first row whose label cell alone is a name as data', () => {
    expect(parseCsv('0,setosa\n1,virginica\n').n).toBe(2);
  });

  it('finds a label column named label, y or target anywhere, in any case', () => {
    for (const name of ['label', 'Y', 'TARGET']) {
      const d = parseCsv(`a,${name},b\n1,cat,2\n3,dog,4\n5,cat,6\n`);
      expect(d.labelName).toBe(name);
      expect(d.featureNames).toEqual(['a', 'b']);
      expect(Array.from(d.x)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(Array.from(d.y)).toEqual([0, 1, 0]);
    }
  });

  it('numbers numeric classes in numeric order and named classes in sorted order', () => {
    expect(parseCsv('0,10\n0,9\n0,2\n0,9\n').classes).toEqual(['2', '9', '10']);
    expect(Array.from(parseCsv('0,10\n0,9\n0,2\n').y)).toEqual([2, 1, 0]);
    expect(parseCsv('0,setosa\n1,virginica\n2,versicolor\n').classes).toEqual(['setosa', 'versicolor', 'virginica']);
  });

  it('reads semicolons, tabs, quotes, CRLF line ends, blank and # comment lines', () => {
    expect(Array.from(parseCsv('1;2;a\n3;4;b\n').x)).toEqual([1, 2, 3, 4]);
    expect(Array.from(parseCsv('1\t2\ta\r\n3\t4\tb\r\n').x)).toEqual([1, 2, 3, 4]);
    const quoted = parseCsv('"width, cm",label\n"1.5","a, b"\n\n# a comment\n2,"say ""c"""\n');
    expect(quoted.featureNames).toEqual(['width, cm']);
    expect(Array.from(quoted.x)).toEqual([1.5, 2]);
    expect(quoted.classes).toEqual(['a, b', 'say "c"']);
  });

  it('names the line and column of a cell that is not a number', () => {
    expect(() => parseCsv('a,b,label\n1,2,x\n3,oops,y\n')).toThrow("line 3, column 2 ('b'): 'oops' is not a number");
    expect(() => parseCsv('1,2,0\n3,,1\n')).toThrow('line 2, column 2: the cell is empty');
    expect(() => parseCsv('1,2,0\n3,4,\n')).toThrow('line 2, column 3: the label is empty');
  });

  it('names the line of a row with the wrong number of columns, counting skipped lines', () => {
    expect(() => parseCsv('p,q,label\n1,2,a\n\n3,4\n')).toThrow('line 4: 2 columns, expected 3 as on line 1');
  });

  it('rejects files with too few rows, columns or classes, and broken quotes or headers', () => {
    expect(() => parseCsv('\n\n')).toThrow('no rows');
    expect(() => parseCsv('a,label\n1,x\n')).toThrow('1 data row');
    expect(() => parseCsv('1\n2\n')).toThrow('line 1: a row needs at least one feature and a label, found 1 column');
    expect(() => parseCsv('1,a\n2,a\n')).toThrow("only one class, 'a'");
    expect(() => parseCsv('1,"a\n2,b\n')).toThrow('line 1, column 2: a quote opened at character 3 is never closed');
    expect(() => parseCsv('1,"a"x\n2,b\n')).toThrow("line 1, column 2: unexpected 'x' after a quoted cell");
    expect(() => parseCsv('a,a,label\n1,2,x\n3,4,y\n')).toThrow("line 1, column 2: the header 'a' appears twice");
  });
});

describe('splitCsv', () => {
  // Row i: features i and 1000 + 10 i, label i mod 3.
  const rows = Array.from({ length: 50 }, (_, i) => `${i},${1000 + 10 * i},${i % 3}`).join('\n');
  const d = parseCsv(rows);

  it('holds out a fifth of the rows, each row once, each with its own label', () => {
    const { train, test } = splitCsv(d, 3);
    expect(train.n).toBe(40);
    expect(test.n).toBe(10);
    // Both parts are scaled by the same affine map, so the rank of feature 1 among all 50 rows
    // is the row's index i.
    const all = [train, test].flatMap((p) => Array.from({ length: p.n }, (_, k) => ({ z: p.x[k * 2]!, y: p.y[k]! })));
    all.sort((a, b) => a.z - b.z);
    expect(new Set(all.map((r) => r.z)).size).toBe(50);
    all.forEach((r, i) => expect(r.y).toBe(i % 3));
  });

  it('standardises each feature to mean 0 and deviation 1 over the training part', () => {
    const { train } = splitCsv(d, 3);
    for (let k = 0; k < 2; k++) {
      let mean = 0;
      let sq = 0;
      for (let i = 0; i < train.n; i++) mean += train.x[i * 2 + k]! / train.n;
      for (let i = 0; i < train.n; i++) sq += (train.x[i * 2 + k]! - mean) ** 2 / train.n;
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.sqrt(sq)).toBeCloseTo(1, 4);
    }
  });

  it('gives the same split for the same seed and another for another seed', () => {
    const a = splitCsv(d, 3);
    expect(Array.from(splitCsv(d, 3).test.x)).toEqual(Array.from(a.test.x));
    expect(Array.from(splitCsv(d, 4).test.x)).not.toEqual(Array.from(a.test.x));
  });
});
