// The loader's pure core, loaded as the tests need it: static/k.js is a plain
// script, run as it is served in a `vm` sandbox with `__KEKSDOSE_TEST__` set,
// where it stops after exporting its core. Both forms are tested: the readable
// source, and the minified static/widget/k.min.js the server sends as /k.js
// (built by `cargo xtask widget`; left out when absent, and when made from
// another k.js, which the server would not send either).
import { readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import vm from 'node:vm';

const sourceUrl = new URL('../../static/k.js', import.meta.url);
const minifiedUrl = new URL('../../static/widget/k.min.js', import.meta.url);

export const source = readFileSync(sourceUrl, 'utf8');

/** [{name, code}]: the source, and the minified loader when it is current. */
export function forms() {
  const out = [{ name: 'static/k.js', code: source }];
  if (existsSync(minifiedUrl)) {
    const code = readFileSync(minifiedUrl, 'utf8');
    const digest = createHash('sha256').update(source, 'utf8').digest('hex').slice(0, 16);
    if (code.split('\n', 1)[0].includes(`source-sha256:${digest}`)) {
      out.push({ name: 'static/widget/k.min.js', code });
    } else {
      console.log('# static/widget/k.min.js was made from another k.js: only the source is tested');
    }
  }
  return out;
}

/** Runs `code` in a fresh sandbox; returns the sandbox (its `__keksdoseCore`). */
export function load(code = source, name = 'static/k.js') {
  const sandbox = { __KEKSDOSE_TEST__: true };
  vm.runInNewContext(code, sandbox, { filename: name });
  return sandbox;
}

/** Values from the sandbox have its own prototypes; compare them as plain JSON. */
export const plain = (value) => JSON.parse(JSON.stringify(value));

export const vectors = (name) =>
  JSON.parse(readFileSync(new URL(`../../shared/vectors/${name}`, import.meta.url), 'utf8'));
