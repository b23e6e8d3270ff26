// Shrinks WGSL for the bundles: comments, blank lines and the blanks between tokens go. Every
// remaining line keeps its tokens in order, so a compiler message still quotes recognisable
// source. WGSL has no string literals, so `//` always starts a comment.
import { readFile } from 'node:fs/promises';

const WORD = /[A-Za-z0-9_.]/;
const OPERATOR = /[-+*/%<>=!&|^~]/;

/**
 * The WGSL `source` without comments and blank lines, and without the blanks that separate no
 * tokens. A blank stays between two word characters (`var x`) and between two operator
 * characters, where removing it could fuse two tokens into one (`a - -b`, `x: vec2<f32> = v`).
 */
export function minifyWgsl(source) {
  const lines = [];
  for (const line of stripBlockComments(source).split('\n')) {
    const slash = line.indexOf('//');
    const text = (slash >= 0 ? line.slice(0, slash) : line).replace(/\s+/g, ' ').trim();
    if (!text) continue;
    lines.push(
      text.replace(/ /g, (_, i) => {
        const before = text[i - 1];
        const after = text[i + 1];
        const fuses = (WORD.test(before) && WORD.test(after)) || (OPERATOR.test(before) && OPERATOR.test(after));
        return fuses ? ' ' : '';
      }),
    );
  }
  return lines.join('\n');
}

/** Block comments nest in WGSL; a line comment may hide a `/*`, so line comments are skipped too. */
function stripBlockComments(source) {
  let out = '';
  let depth = 0;
  for (let i = 0; i < source.length; i++) {
    const two = source.slice(i, i + 2);
    if (depth === 0 && two === '//') {
      const end = source.indexOf('\n', i);
      const stop = end < 0 ? source.length : end;
      out += source.slice(i, stop);
      i = stop - 1;
    } else if (two === '/*') {
      depth++;
      i++;
    } else if (depth > 0 && two === '*/') {
      depth--;
      i++;
      if (depth === 0) out += ' ';
    } else if (depth === 0 || source[i] === '\n') {
      out += source[i];
    }
  }
  return out;
}

/** esbuild plugin: `.wgsl` imports become their minified text (the `text` loader's output). */
export const wgslMinify = {
  name: 'wgsl-minify',
  setup(build) {
    build.onLoad({ filter: /\.wgsl$/ }, async (args) => ({
      contents: minifyWgsl(await readFile(args.path, 'utf8')),
      loader: 'text',
    }));
  },
};
