// The loader's own rules (static/k.js) against the vectors the Rust code
// publishes, so that the two never drift: how a decision resolves and the
// decisions the loader derives from a stored one (shared/vectors/choices.json,
// shared/src/decision.rs), and taking consent back (withdrawal.json,
// shared/src/withdrawal.rs), and the language shown (language.json,
// SiteConfig::language_for). Then a table of the ledger's answers and what the
// loader does with each. Every test runs on the source and on the minified
// loader (./loader.mjs).
import { test as testAll } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { forms, load, plain, vectors } from './loader.mjs';

const choices = vectors('choices.json');
const withdrawal = vectors('withdrawal.json');
const language = vectors('language.json');
const configs = choices.configs;

/** A decision of the vectors as the loader builds it (Rust leaves out empty maps). */
const decision = (d) => ({ action: d.action, categories: d.categories || {}, services: d.services || {} });

testAll('every example config is there, with a category of its own', () => {
  assert.deepEqual(Object.keys(configs).sort(), ['coaching', 'dogandme', 'own-category', 'saas', 'sessionbutler', 'sevdesk', 'tutory']);
  assert.ok(configs['own-category'].categories.some((c) => c.id === 'research'));
});

for (const form of forms()) {
  const core = load(form.code, form.name, form.part).__keksdoseCore;
  const test = (name, fn) => testAll(`${form.name}: ${name}`, fn);

  test('the language shown is SiteConfig::language_for (language.json)', () => {
    assert.ok(language.cases.length >= 100);
    for (const c of language.cases) {
      const config = { site: { languages: c.languages } };
      assert.equal(core.choose(config, c.asked), c.shown, `${JSON.stringify(c.languages)} asked ${c.asked}`);
    }
  });

  test('a decision resolves exactly as Decision::resolve', () => {
    assert.ok(choices.resolve.length >= 60);
    for (const v of choices.resolve) {
      assert.deepEqual(plain(core.resolve(configs[v.config], v.decision)), v.choices, v.name);
    }
  });

  test('resolved choices are the cookie lists of StoredDecision::from_choices', () => {
    // A stored decision as the cookie keeps it: resolved, then split (the one
    // made before a service joined a category is not: its cookie lacks that id).
    for (const v of choices.restate.filter((v) => v.stored && !v.name.includes('made before'))) {
      const config = configs[v.config];
      const d = core.resolve(config, { action: v.stored.action, categories: {}, services: {} });
      if (v.stored.action !== 'custom') {
        assert.deepEqual(plain(core.lists(d)), { granted: v.stored.granted, denied: v.stored.denied }, v.name);
      }
    }
  });

  test('a stored decision is restated as Decision::restate (the settings, nothing pre-ticked)', () => {
    assert.ok(choices.restate.length >= 25);
    for (const v of choices.restate) {
      const d = core.restate(configs[v.config], v.stored);
      assert.deepEqual(plain(d), decision(v.decision), v.name);
      assert.deepEqual(plain(core.resolve(configs[v.config], d)), v.choices, v.name);
    }
  });

  test('"Immer erlauben" decides as Decision::allowing', () => {
    assert.ok(choices.allowing.length >= 40);
    for (const v of choices.allowing) {
      const d = core.allowing(configs[v.config], v.stored, v.service);
      assert.deepEqual(plain(d), decision(v.decision), v.name);
      assert.deepEqual(plain(core.resolve(configs[v.config], d)), v.choices, v.name);
    }
  });

  test('a pending decision is sent again as Decision::resend', () => {
    assert.ok(choices.resend.length >= 20);
    for (const v of choices.resend) {
      const config = configs[v.config];
      const d = core.resend(config, v.stored);
      assert.deepEqual(plain(d), decision(v.decision), v.name);
      if (!v.name.includes('older version') && !v.name.includes('made before')) {
        // On its own version it records exactly what the cookie holds.
        assert.deepEqual(plain(core.resolve(config, d)), v.recorded, v.name);
        assert.deepEqual(plain(core.lists(core.resolve(config, d))), { granted: v.stored.granted, denied: v.stored.denied }, v.name);
      }
    }
  });

  test("get() sorts ids by the config's categories, by the built-in ones before it arrived", () => {
    assert.deepEqual(plain(core.BUILT_IN_CATEGORIES), choices.built_in_categories);
    const config = configs['own-category'];
    const stored = { granted: ['hotjar', 'necessary', 'research', 'session'], denied: ['analytics', 'mixpanel'] };
    assert.deepEqual(plain(core.split(config, stored)), {
      categories: { necessary: true, research: true, analytics: false },
      services: { hotjar: true, session: true, mixpanel: false },
    });
    // Before the config: `research` is not known to be a category.
    assert.deepEqual(plain(core.split(null, stored)).services, { hotjar: true, research: true, session: true, mixpanel: false });
  });

  test('"Nur Notwendige" withdraws as withdrawal::reject_action', () => {
    assert.ok(withdrawal.reject_action.length >= 25);
    for (const v of withdrawal.reject_action) {
      assert.equal(core.rejectAction(configs[v.config], v.stored), v.action, v.name);
    }
    assert.ok(withdrawal.reject_action.some((v) => v.action === 'withdraw'));
  });

  test('what lost consent, whose cookies go and when the page reloads: as shared/src/withdrawal.rs', () => {
    assert.ok(withdrawal.between.length >= 90);
    let reloads = 0;
    for (const v of withdrawal.between) {
      const config = configs[v.config];
      const gone = core.withdrawn(config, v.before, v.after);
      assert.deepEqual(plain(gone), v.withdrawn, v.name);
      assert.deepEqual(plain(core.refusedServices(config, v.after)), v.refused_services, v.name);
      for (const r of v.reload) {
        assert.equal(core.needsReload(config, gone, r.ran), r.reload, `${v.name}, ran ${r.ran}`);
        reloads += r.reload;
      }
    }
    assert.ok(reloads > 0, 'some vectors reload');
  });

  // The per-site loader carries SiteConfig::loader_view (no texts only the
  // settings show): the loader must decide everything on it as on the whole config.
  test("the per-site loader's config view decides as the whole config (loader_views)", () => {
    const views = choices.loader_views;
    assert.deepEqual(Object.keys(views).sort(), Object.keys(configs).sort());
    const now = 1790000000;
    const same = (f, name) => assert.deepEqual(plain(f(views[name])), plain(f(configs[name])), name);
    for (const name of Object.keys(configs)) {
      assert.ok(JSON.stringify(views[name]).length < JSON.stringify(configs[name]).length || !configs[name].services.length, name);
      same((c) => [core.needsBanner(c), core.consentLifetimeSecs(c), core.choose(c, 'en-GB')], name);
      // What the browser part reads of a service: placeholders, cookie deletion, Consent Mode.
      same((c) => c.services.map((s) => [s.id, s.name, s.category, s.provider && s.provider.name, s.privacy_policy_url,
        s.consent_mode, (s.cookies || []).map((k) => [k.name, k.storage, k.domain])]), name);
      // (Not the site's texts: the view leaves them out; the placeholders' words
      // come with the loader beside the config.)
      same((c) => [c.site, c.consent, c.consent_mode, (c.categories || []).map((k) => k.id)], name);
    }
    for (const v of choices.resolve) same((c) => core.resolve(c, v.decision), v.config);
    for (const v of withdrawal.reject_action) {
      same((c) => core.rejectAction(c, v.stored), v.config);
      if (!v.stored) continue;
      same((c) => [core.renewal(c, v.stored, now), core.restate(c, v.stored), core.split(c, v.stored)], v.config);
      same((c) => core.grantedSignals(c, (id) => v.stored.granted.indexOf(id) >= 0), v.config);
    }
    for (const v of withdrawal.between) {
      same((c) => [core.withdrawn(c, v.before, v.after), core.refusedServices(c, v.after)], v.config);
    }
  });

  // The ledger's answers to POST /v1/sites/{site}/consents (docs/contract.md;
  // bodies as server/src/http/error.rs writes them), and what the loader does:
  // `receipt` take it; `later` keep it pending (and retry after N s on the page);
  // `newConsent` send it again without the consent ID; `askAgain` forget it and
  // ask; `refused` stop sending it.
  const err = (code, message, details) => ({ error: { code, message, ...(details ? { details } : {}) } });
  const receipt = { consent_id: 'kq3Xg0bT2m9yQ1vZ8cJ4Aw', seq: 7, record_hash: 'ab'.repeat(32), received_at: '2026-11-21T10:00:00.000Z' };
  const answers = [
    // status, body, Retry-After, outcome, why
    [201, receipt, null, { receipt }, 'recorded'],
    [201, { consent_id: 'a b' }, null, { later: null }, 'no receipt in a 2xx: not acknowledged'],
    [0, null, null, { later: null }, 'no answer (offline, CORS, server down)'],
    [408, err('request_timeout', 'the body did not arrive in time'), null, { later: null }, 'too slow this time'],
    [429, err('rate_limited', 'too many requests from your network; retry in 7 s'), '7', { later: 7 }, 'rate limited'],
    [429, err('rate_limited', 'slow down'), 'Fri, 21 Nov 2026 10:00:00 GMT', { later: null }, 'a date: the next page'],
    [503, err('unavailable', 'storage cannot take writes now'), '5', { later: 5 }, 'disk full'],
    [500, err('internal', 'a bug'), null, { later: null }, 'a server bug, maybe fixed by then'],
    [502, null, null, { later: null }, 'a proxy without the server'],
    [403, err('forbidden', 'origin "https://x" is not allowed for site "saas"'), null, { later: null }, 'an origin the operator has yet to allow'],
    [
      422,
      err('invalid', 'consent_id: "kq3Xg0bT2m9yQ1vZ8cJ4Aw" is not a consent ID of site "saas"'),
      null,
      { newConsent: true },
      'unknown consent ID: a new consent',
    ],
    [422, err('invalid', 'x', [{ path: 'consent_id', message: 'unknown' }]), null, { newConsent: true }, 'named in details'],
    [
      422,
      err('invalid', 'config_version: "T4LQ" is not a version of site "saas"'),
      null,
      { askAgain: true },
      'unknown config version: decide again',
    ],
    [
      422,
      err('invalid', 'the decision does not fit the config version it names', [{ path: 'services.hotjar', message: 'unknown service "hotjar" in this config version' }]),
      null,
      { refused: '422 invalid: the decision does not fit the config version it names' },
      'a decision that does not fit: never recorded',
    ],
    [
      422,
      err('invalid', 'language: "fr" is not one of the config\'s languages (de, en)'),
      null,
      { refused: '422 invalid: language: "fr" is not one of the config\'s languages (de, en)' },
      'another problem',
    ],
    [400, err('bad_request', 'unknown field `foo`'), null, { refused: '400 bad_request: unknown field `foo`' }, 'malformed'],
    [404, err('not_found', 'unknown site "gone"'), null, { refused: '404 not_found: unknown site "gone"' }, 'the site is gone'],
    [404, null, null, { refused: '404 : ' }, 'not even JSON'],
    [413, err('payload_too_large', 'too large'), null, { refused: '413 payload_too_large: too large' }, 'too large'],
    [415, err('unsupported_media_type', 'json'), null, { refused: '415 unsupported_media_type: json' }, 'wrong type'],
    [409, err('conflict', 'x'), null, { refused: '409 conflict: x' }, 'conflict'],
  ];
  test("each of the ledger's answers means what the table says", () => {
    for (const [status, body, retryAfter, outcome, why] of answers) {
      assert.deepEqual(plain(core.answer(status, body, retryAfter)), outcome, `${status}: ${why}`);
    }
    // Only an unknown consent ID starts a new consent, and a withdrawal then has
    // nothing to withdraw.
    assert.equal(core.freshAction('withdraw'), 'reject_all');
    assert.equal(core.freshAction('custom'), 'custom');
  });
}

// The loader recognises these two refusals by the path their message starts
// with: the messages must keep it.
testAll("the unknown consent ID's and config version's messages start with their paths", () => {
  const rust = readFileSync(new URL('../../shared/src/consent_request.rs', import.meta.url), 'utf8');
  assert.match(rust, /"consent_id: \{consent_id:\?\} is not a consent ID of site \{site:\?\}"/);
  const server = readFileSync(new URL('../../server/src/service/consents.rs', import.meta.url), 'utf8');
  assert.match(server, /"config_version: \{:\?\} is not a version of site \{:\?\}"/);
});
