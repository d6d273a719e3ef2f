// The loader's pure rules, loaded as the tests need them. The loader has two
// halves: static/k.js, a plain script, run as it is served in a `vm` sandbox
// with `__KEKSDOSE_TEST__` set, where it stops after exporting its core; and
// static/k-banner.js, an ES module whose default export, called with that core
// and `test` set, returns the rules that make a decision. `load` gives both as
// one `__keksdoseCore`. Both forms are tested: the readable sources, and the
// minified files the server sends (static/widget/k.min.js as /k.js,
// static/widget/k-banner.min.js as /widget/k-banner.HASH.js; built by
// `cargo xtask widget`, left out when absent, and when made from another
// source, which the server would not send either).
import { readFileSync, existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import vm from 'node:vm';

const url = (path) => new URL(`../../${path}`, import.meta.url);

export const source = readFileSync(url('static/k.js'), 'utf8');
export const partSource = readFileSync(url('static/k-banner.js'), 'utf8');

/** The minified form of `sourceText` in `path`, when it was made from it; else null. */
function minified(path, sourceText) {
  if (!existsSync(url(path))) return null;
  const code = readFileSync(url(path), 'utf8');
  const digest = createHash('sha256').update(sourceText, 'utf8').digest('hex').slice(0, 16);
  if (code.split('\n', 1)[0].includes(`source-sha256:${digest}`)) return code;
  console.log(`# ${path} was made from another source: only the source is tested`);
  return null;
}

/** [{name, code, part}]: the sources, and the minified loader when both halves are current. */
export function forms() {
  const out = [{ name: 'static/k.js', code: source, part: partSource }];
  const code = minified('static/widget/k.min.js', source);
  const part = minified('static/widget/k-banner.min.js', partSource);
  if (code && part) out.push({ name: 'static/widget/k.min.js', code, part });
  return out;
}

/**
 * The module's default export as an expression: what the server writes into
 * the per-site loader (server/src/http/assets.rs, `part_function`).
 */
export function partFunction(part) {
  // Every leading comment, as the server strips them.
  const body = part.replace(/^(\s*(\/\*[\s\S]*?\*\/|\/\/[^\n]*\n))*\s*/, '');
  const fn = body.startsWith('export default ') ? body.slice('export default '.length).trim().replace(/;$/, '') : '';
  if (!fn.startsWith('function')) throw new Error('k-banner.js must be `export default function …`');
  return fn;
}

/** Runs both halves in a fresh sandbox; returns the sandbox (its `__keksdoseCore`, both halves' rules). */
export function load(code = source, name = 'static/k.js', part = partSource) {
  const sandbox = { __KEKSDOSE_TEST__: true };
  vm.runInNewContext(code, sandbox, { filename: name });
  // Strict, as it is in a browser (a module; inline, inside k.js's strict function).
  const make = vm.runInContext(`"use strict";(${partFunction(part)})`, sandbox, { filename: `${name} (other half)` });
  const rules = make(Object.assign(Object.create(null), sandbox.__keksdoseCore, { test: true }));
  Object.assign(sandbox.__keksdoseCore, rules);
  return sandbox;
}

/** Values from the sandbox have its own prototypes; compare them as plain JSON. */
export const plain = (value) => JSON.parse(JSON.stringify(value));

export const vectors = (name) =>
  JSON.parse(readFileSync(new URL(`../../shared/vectors/${name}`, import.meta.url), 'utf8'));
