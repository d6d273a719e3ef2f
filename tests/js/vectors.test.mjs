// The published vectors (shared/vectors/*.json), recomputed with an independent
// RFC 8785 implementation: `canonicalize`, the JCS reference implementation by
// the RFC's author. If Rust's canonical form or hashing ever drifted from the
// standard, an auditor's recomputation would fail; so does this test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

const vectors = (name) =>
  JSON.parse(readFileSync(new URL(`../../shared/vectors/${name}`, import.meta.url), 'utf8'));
const sha256 = (text) => createHash('sha256').update(text, 'utf8').digest();

test('every record hash is SHA-256 over the JCS form without record_hash and personal', () => {
  const { records } = vectors('records.json');
  assert.ok(records.length >= 3);
  for (const { record, canonical } of records) {
    const { record_hash, personal, ...hashed } = record;
    assert.equal(canonicalize(hashed), canonical, `canonical form of record ${record.seq}`);
    assert.equal(sha256(canonicalize(hashed)).toString('hex'), record_hash, `record ${record.seq}`);
  }
});

test('personal content matches personal_hash where it was kept, and erasure keeps the chain', () => {
  const { records } = vectors('records.json');
  let erased = 0;
  for (const { record, personal_canonical } of records) {
    if (record.personal === undefined) {
      erased += 1;
      continue;
    }
    assert.equal(canonicalize(record.personal), personal_canonical);
    assert.equal(sha256(canonicalize(record.personal)).toString('hex'), record.personal_hash);
  }
  assert.equal(erased, 1, 'one vector record had its personal content erased');
});

test('each record links to the one before it', () => {
  const { records } = vectors('records.json');
  let prev = '0'.repeat(64);
  records.forEach(({ record }, i) => {
    assert.equal(record.seq, i + 1);
    assert.equal(record.prev_hash, prev, `link of record ${record.seq}`);
    prev = record.record_hash;
  });
});

test('the config version is base64url(SHA-256(JCS(config)))', () => {
  const { config } = vectors('records.json');
  assert.equal(canonicalize(config.config), config.canonical);
  assert.equal(sha256(canonicalize(config.config)).toString('base64url'), config.version);
});
