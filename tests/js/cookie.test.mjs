// The loader's cookie parser and encoder (static/k.js) against the vectors the
// Rust implementation publishes (shared/vectors/cookie.json), so that the two
// never drift; plus the loader's renewal rules and its Consent Mode defaults.
// Each test runs on the source and on the minified loader (./loader.mjs).
import { test as testAll } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { forms, load, plain, source, vectors as published } from './loader.mjs';

const vectors = published('cookie.json');

for (const form of forms()) {
  const core = load(form.code, form.name, form.part).__keksdoseCore;
  const test = (name, fn) => testAll(`${form.name}: ${name}`, fn);
  const fresh = () => load(form.code, form.name, form.part);

  test('the cookie name is the one the vectors name', () => {
    assert.equal(core.PREFIX, vectors.cookie_name_prefix);
  });

  test('every valid vector decodes to its decision and encodes back to its value', () => {
    assert.ok(vectors.valid.length >= 5);
    for (const { name, value, decision } of vectors.valid) {
      const decoded = core.decode(value);
      assert.equal(decoded.error, undefined, `${name}: refused: ${decoded.error}`);
      assert.deepEqual(plain(decoded.ok), decision, `decode: ${name}`);
      assert.equal(core.encode(decision), value, `encode: ${name}`);
    }
  });

  test('every invalid vector is refused, for the reason Rust gives', () => {
    assert.ok(vectors.invalid.length >= 14);
    for (const { name, value, error } of vectors.invalid) {
      const decoded = core.decode(value);
      assert.equal(decoded.ok, undefined, `${name}: accepted ${JSON.stringify(decoded.ok)}`);
      assert.equal(decoded.error, error, name);
    }
  });

  test('encode refuses what decode would refuse', () => {
    const base = vectors.valid[0].decision;
    const bad = [
      { ...base, consent_id: 'a+b' },
      { ...base, config_version: '' },
      { ...base, granted: ['Mixpanel'] },
      { ...base, granted: ['mixpanel'], denied: ['mixpanel'] },
      { ...base, granted: Array.from({ length: 200 }, (_, i) => `s${i}-${"x".repeat(18)}`) },
    ];
    for (const decision of bad) {
      assert.throws(() => core.encode(decision), JSON.stringify(decision).slice(0, 80));
    }
  });

  // A config shaped like the `config` of GET /v1/sites/{site}/config.
  const config = {
    consent: { lifetime: '12mo', revision: 2, reload_on_withdraw: false },
    categories: [{ id: 'analytics' }, { id: 'marketing' }],
    services: [
      { id: 'session', category: 'necessary', consent_mode: ['security_storage'] },
      { id: 'mixpanel', category: 'analytics', consent_mode: ['analytics_storage'] },
      { id: 'google-ads', category: 'marketing', consent_mode: ['ad_storage', 'ad_user_data'] },
    ],
  };
  const decidedAt = 1_795_293_490;
  const stored = {
    decided_at: decidedAt,
    revision: 2,
    granted: ['analytics', 'mixpanel', 'necessary', 'session'],
    denied: ['google-ads', 'marketing'],
  };

  test('renewal mirrors shared/src/renewal.rs', () => {
    const day = 86_400;
    assert.equal(core.renewal(config, stored, decidedAt + day), null, 'fresh decision holds');
    assert.deepEqual(plain(core.renewal(config, stored, decidedAt + 360 * day)), { expired: true });
    assert.deepEqual(plain(core.renewal({ ...config, consent: { ...config.consent, revision: 3 } }, stored, decidedAt)), {
      revision: { stored: 2, current: 3 },
    });
    const grown = {
      ...config,
      services: [...config.services, { id: 'hotjar', category: 'analytics' }, { id: 'csrf', category: 'necessary' }],
    };
    assert.deepEqual(plain(core.renewal(grown, stored, decidedAt)), { new_ids: ['hotjar'] }, 'a new necessary service asks nothing');
    const fewer = { ...config, services: config.services.slice(0, 2), consent: { ...config.consent, lifetime: '30d' } };
    assert.equal(core.renewal(fewer, stored, decidedAt + 29 * day), null, 'a removed service keeps it');
    assert.deepEqual(plain(core.renewal(fewer, stored, decidedAt + 30 * day)), { expired: true });
    assert.equal(core.consentLifetimeSecs({ consent: { lifetime: 'session' } }), 365 * day, 'as Rust: a year');
  });

  test('Consent Mode: the update grants exactly the signals of allowed services', () => {
    const allowed = (id) => stored.granted.includes(id);
    assert.deepEqual(plain(core.grantedSignals(config, allowed)), {
      ad_storage: 'denied',
      ad_user_data: 'denied',
      ad_personalization: 'denied',
      analytics_storage: 'granted',
      functionality_storage: 'denied',
      personalization_storage: 'denied',
      security_storage: 'granted',
    });
    assert.equal(core.needsBanner(config), true);
    assert.equal(core.needsBanner({ categories: [], services: [config.services[0]] }), false);
  });

  test('Consent Mode defaults are the first dataLayer entry, everything but security denied', () => {
    const sandbox = fresh();
    const first = Array.from(sandbox.dataLayer[0]);
    assert.deepEqual(plain(first), [
      'consent',
      'default',
      {
        ad_storage: 'denied',
        ad_user_data: 'denied',
        ad_personalization: 'denied',
        analytics_storage: 'denied',
        functionality_storage: 'denied',
        personalization_storage: 'denied',
        security_storage: 'granted',
        wait_for_update: 500,
      },
    ]);
    assert.equal(typeof sandbox.gtag, 'function');
  });

  test('cookie patterns match like Cookie::matches', () => {
    assert.ok(core.cookieMatches('mp_*_mixpanel', 'mp_0a1b2c3d_mixpanel'));
    assert.ok(core.cookieMatches('_ga_*', '_ga_'));
    assert.ok(!core.cookieMatches('mp_*_mixpanel', 'mp_mixpanel'));
    assert.ok(core.cookieMatches('_fbp', '_fbp') && !core.cookieMatches('_fbp', '_fbpx'));
  });
}

// The two-click placeholder's words come from the server (`words`, see
// shared/texts/<lang>.toml): every key the loader reads there is one the per-site
// loader carries (LOADER_WORDS in server/src/http/assets.rs) and one every
// language has.
testAll("the placeholder's words are the ones the server sends", () => {
  const assets = readFileSync(new URL('../../server/src/http/assets.rs', import.meta.url), 'utf8');
  const sent = [...assets.match(/const LOADER_WORDS[^=]*=\s*\[([^\]]*)\]/)[1].matchAll(/"texts\.(\w+)"/g)].map((m) => m[1]);
  const loader = readFileSync(new URL('../../static/k.js', import.meta.url), 'utf8');
  const read = [...loader.matchAll(/\bt\("(\w+)"\)/g)].map((m) => m[1]);
  assert.deepEqual([...new Set(read)].sort(), [...new Set(sent)].sort());
  assert.equal(read.length >= 4, true, `the loader reads ${read}`);
  const de = readFileSync(new URL('../../shared/texts/de.toml', import.meta.url), 'utf8');
  for (const key of read) assert.match(de, new RegExp(`^${key} = "`, 'm'), key);
  // No built-in visitor text is left in the loader.
  assert.ok(!source.includes('Inhalt laden') && !source.includes('Load content'));
});
