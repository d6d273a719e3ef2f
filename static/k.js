/*! Keksdose loader (k.js): Consent Mode defaults, the consent cookie, blocked
 * scripts and iframes, and the banner on demand. Hand-written ES2017, no
 * dependencies; the build only minifies it. Embed with
 *   <script src="https://CMP/s/SITE_ID/k.js" async></script>
 * (the per-site form: the server writes the site's config and its first layer
 * into SITE, so the banner shows without waiting for the config or the WASM),
 * or with
 *   <script src="https://CMP/k.js" data-site="SITE_ID" async></script>
 *
 * Layout of this file: Consent Mode defaults first (before anything else runs),
 * then the pure core (cookie format, renewal, how choices resolve, taking
 * consent back, what the ledger's answers mean; loaded by tests/js/ in a `vm`
 * sandbox with `__KEKSDOSE_TEST__` set, where it stops after exporting the
 * core, and held there to the vectors shared/ publishes), then the browser part
 * (applying decisions, the banner, window.keksdose), which keeps no rule of its
 * own. Served minified (static/widget/k.min.js, made by `cargo xtask widget`);
 * this file stays the readable source.
 */
(function (root) {
  "use strict";

  // ---- Google Consent Mode v2 defaults: first, before anything else. ----------
  root.dataLayer = root.dataLayer || [];
  function gtag() {
    root.dataLayer.push(arguments);
  }
  gtag("consent", "default", {
    ad_storage: "denied",
    ad_user_data: "denied",
    ad_personalization: "denied",
    analytics_storage: "denied",
    functionality_storage: "denied",
    personalization_storage: "denied",
    security_storage: "granted",
    wait_for_update: 500,
  });
  if (typeof root.gtag !== "function") root.gtag = gtag;

  // ---- The core. Cookie and renewal: mirrors shared/src/cookie.rs and
  // shared/src/renewal.rs (shared/vectors/cookie.json). ------------------------
  // The cookie is per site (`keksdose_<site>`): sites sharing a host never
  // read each other's decisions.
  var PREFIX = "keksdose_";
  // The banner's file names; the server writes them in place of the string.
  var WIDGET = "__KEKSDOSE_WIDGET__";
  // The per-site loader's site: {published, css, first: {lang: markup}}; the
  // server writes it in place of the string (/s/SITE_ID/k.js).
  var SITE = "__KEKSDOSE_SITE__";
  var MAX_LEN = 3800;
  var NECESSARY = "necessary";
  var ACTIONS = { a: "accept_all", r: "reject_all", c: "custom", w: "withdraw" };
  var CODES = { accept_all: "a", reject_all: "r", custom: "c", withdraw: "w" };
  var FLAGS = {
    "": { gpc: false, dnt: false },
    g: { gpc: true, dnt: false },
    d: { gpc: false, dnt: true },
    gd: { gpc: true, dnt: true },
  };
  var SIGNALS = [
    "ad_storage",
    "ad_user_data",
    "ad_personalization",
    "analytics_storage",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
  ];

  function isToken(s) {
    return /^[A-Za-z0-9_-]{1,64}$/.test(s);
  }
  function isId(s) {
    return s.length <= 24 && /^[a-z][a-z0-9_-]*$/.test(s);
  }
  function isNumber(s) {
    return /^(0|[1-9][0-9]{0,12})$/.test(s);
  }
  /** UTF-8 length in bytes (the Rust limit counts bytes). */
  function byteLength(s) {
    var n = 0;
    for (var i = 0; i < s.length; i++) {
      var c = s.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
        n += 4;
        i++;
      } else n += 3;
    }
    return n;
  }
  function CookieError(message) {
    this.message = message;
  }
  function fail(message) {
    throw new CookieError(message);
  }
  function field(name) {
    return fail("malformed field " + name);
  }
  function overlaps(a, b) {
    return a.some(function (id) {
      return b.indexOf(id) >= 0;
    });
  }

  /**
   * Decodes a cookie value exactly like StoredDecision::decode: returns
   * `{ok: decision}` or `{error: message}` (the Rust error's text).
   */
  function decode(value) {
    try {
      return { ok: decodeOrThrow(value) };
    } catch (e) {
      if (e instanceof CookieError) return { error: e.message };
      throw e;
    }
  }
  function decodeOrThrow(value) {
    if (typeof value !== "string") fail("unknown cookie format version");
    if (byteLength(value) > MAX_LEN) fail("longer than " + MAX_LEN + " bytes");
    var f = value.split(".");
    if (f[0] !== "1") fail("unknown cookie format version");
    if (f.length !== 10) fail("wrong number of fields");
    function optional(s, name) {
      if (s === "") return null;
      return isToken(s) ? s : field(name);
    }
    function number(s, name) {
      return isNumber(s) ? Number(s) : field(name);
    }
    function ids(s, name) {
      if (s === "") return [];
      var list = s.split(":");
      for (var i = 0; i < list.length; i++) {
        if (!isId(list[i]) || (i > 0 && !(list[i - 1] < list[i]))) field(name);
      }
      return list;
    }
    var d = {
      consent_id: optional(f[1], "consent_id"),
      pending: optional(f[2], "pending"),
      decided_at: number(f[3], "decided_at"),
      config_version: optional(f[4], "config_version") || field("config_version"),
      revision: number(f[5], "revision"),
    };
    if (d.revision > 4294967295) field("revision");
    d.action = (f[6].length === 1 && ACTIONS.hasOwnProperty(f[6]) && ACTIONS[f[6]]) || field("action");
    d.signals = FLAGS.hasOwnProperty(f[7]) ? { gpc: FLAGS[f[7]].gpc, dnt: FLAGS[f[7]].dnt } : field("flags");
    d.granted = ids(f[8], "granted");
    d.denied = ids(f[9], "denied");
    if (overlaps(d.granted, d.denied)) fail("an id is both granted and denied");
    return d;
  }

  function sortedSet(list) {
    return list
      .slice()
      .sort()
      .filter(function (id, i, a) {
        return i === 0 || a[i - 1] !== id;
      });
  }

  /** Encodes a decision exactly like StoredDecision::encode; throws a CookieError. */
  function encode(d) {
    var granted = sortedSet(d.granted);
    var denied = sortedSet(d.denied);
    if (d.consent_id != null && !isToken(d.consent_id)) field("consent_id");
    if (d.pending != null && !isToken(d.pending)) field("pending");
    if (!isToken(d.config_version)) field("config_version");
    if (!granted.every(isId) || !denied.every(isId)) field("ids");
    if (overlaps(granted, denied)) fail("an id is both granted and denied");
    if (!CODES.hasOwnProperty(d.action)) field("action");
    var flags = (d.signals && d.signals.gpc ? "g" : "") + (d.signals && d.signals.dnt ? "d" : "");
    var value = [
      "1",
      d.consent_id || "",
      d.pending || "",
      String(d.decided_at),
      d.config_version,
      String(d.revision),
      CODES[d.action],
      flags,
      granted.join(":"),
      denied.join(":"),
    ].join(".");
    if (byteLength(value) > MAX_LEN) fail("longer than " + MAX_LEN + " bytes");
    return value;
  }

  var UNITS = { s: 1, min: 60, h: 3600, d: 86400, w: 604800, mo: 2592000, y: 31536000 };
  /** Seconds of a lifetime like "12mo"; null for session, persistent or malformed. */
  function lifetimeSecs(text) {
    var m = /^([1-9][0-9]{0,5})([a-z]+)$/.exec(String(text));
    if (!m || !UNITS.hasOwnProperty(m[2])) return null;
    return Number(m[1]) * UNITS[m[2]];
  }
  /** SiteConfig::consent_lifetime_secs. */
  function consentLifetimeSecs(config) {
    var secs = lifetimeSecs(config.consent && config.consent.lifetime);
    return secs === null ? 365 * 86400 : secs;
  }
  function categoryIds(config) {
    var ids = [NECESSARY];
    (config.categories || []).forEach(function (c) {
      if (c.id !== NECESSARY) ids.push(c.id);
    });
    return ids;
  }
  function revisionOf(config) {
    return config.consent && typeof config.consent.revision === "number" ? config.consent.revision : 1;
  }

  /**
   * renewal::check: null when `stored` still holds for `config` (the `config`
   * field of GET /v1/sites/{site}/config) at `now` (Unix seconds), else why not.
   */
  function renewal(config, stored, now) {
    if (now >= stored.decided_at + consentLifetimeSecs(config)) return { expired: true };
    var current = revisionOf(config);
    if (stored.revision < current) return { revision: { stored: stored.revision, current: current } };
    var covered = function (id) {
      return stored.granted.indexOf(id) >= 0 || stored.denied.indexOf(id) >= 0;
    };
    var ids = categoryIds(config).filter(function (id) {
      return id !== NECESSARY;
    });
    (config.services || []).forEach(function (s) {
      if (s.category !== NECESSARY) ids.push(s.id);
    });
    var fresh = ids.filter(function (id) {
      return !covered(id);
    });
    return fresh.length ? { new_ids: fresh } : null;
  }

  /** SiteConfig::needs_banner. */
  function needsBanner(config) {
    return (
      (config.services || []).some(function (s) {
        return s.category !== NECESSARY;
      }) ||
      (config.categories || []).some(function (c) {
        return c.id !== NECESSARY;
      })
    );
  }

  /** Consent Mode signals granted by a set of allowed ids. */
  function grantedSignals(config, allowed) {
    var update = {};
    SIGNALS.forEach(function (s) {
      update[s] = s === "security_storage" ? "granted" : "denied";
    });
    (config.services || []).forEach(function (s) {
      if (allowed(s.id)) {
        (s.consent_mode || []).forEach(function (signal) {
          update[signal] = "granted";
        });
      }
    });
    return update;
  }

  /** Whether cookie `name` matches a declared name or `*` pattern (Cookie::matches). */
  function cookieMatches(pattern, name) {
    var star = pattern.indexOf("*");
    if (star < 0) return pattern === name;
    var prefix = pattern.slice(0, star);
    var suffix = pattern.slice(star + 1);
    return (
      name.length >= prefix.length + suffix.length &&
      name.slice(0, prefix.length) === prefix &&
      name.slice(name.length - suffix.length) === suffix
    );
  }

  // ---- Choices: mirrors shared/src/decision.rs (shared/vectors/choices.json). ----
  function own(map, id) {
    return !!map && Object.prototype.hasOwnProperty.call(map, id);
  }
  function servicesIn(config, category) {
    return (config.services || []).filter(function (s) {
      return s.category === category;
    });
  }
  function granted(stored, id) {
    return !!stored && stored.granted.indexOf(id) >= 0;
  }

  /**
   * Decision::resolve for a decision the loader or the banner made (`action`,
   * and for `custom` the `categories` and `services` switched): every category
   * and service of `config` with its yes/no. Nothing pre-ticked, necessary
   * always on, a category on only when all of its services are.
   */
  function resolve(config, decision) {
    var fixed = decision.action === "accept_all" ? true : decision.action === "custom" ? null : false;
    var out = { categories: {}, services: {} };
    (config.services || []).forEach(function (s) {
      var on = fixed;
      if (s.category === NECESSARY) on = true;
      else if (fixed === null) {
        on = own(decision.services, s.id)
          ? decision.services[s.id]
          : own(decision.categories, s.category) && decision.categories[s.category];
      }
      out.services[s.id] = !!on;
    });
    categoryIds(config).forEach(function (c) {
      var members = servicesIn(config, c);
      var on = fixed === null ? own(decision.categories, c) && decision.categories[c] : fixed;
      out.categories[c] =
        c === NECESSARY ||
        (members.length
          ? members.every(function (s) {
              return out.services[s.id];
            })
          : !!on);
    });
    return out;
  }

  /** The custom decision of every service `allowed` allows (Decision::switches). */
  function switches(config, allowed) {
    return resolve(config, {
      action: "custom",
      services: (config.services || []).reduce(function (m, s) {
        m[s.id] = allowed(s.id);
        return m;
      }, {}),
      categories: categoryIds(config).reduce(function (m, c) {
        m[c] = !servicesIn(config, c).length && allowed(c);
        return m;
      }, {}),
    });
  }
  /** Decision::restate: the stored decision (or none) as custom switches. */
  function restate(config, stored) {
    var d = switches(config, function (id) {
      return granted(stored, id);
    });
    return { action: "custom", categories: d.categories, services: d.services };
  }
  /** Decision::allowing: "Immer erlauben" of `service` on top of the stored decision. */
  function allowing(config, stored, service) {
    var d = switches(config, function (id) {
      return id === service || granted(stored, id);
    });
    return { action: "custom", categories: d.categories, services: d.services };
  }
  /** Decision::resend: a pending decision sent again, as far as `config` names its ids. */
  function resend(config, stored) {
    var d = { action: stored.action, categories: {}, services: {} };
    if (stored.action !== "custom") return d;
    var put = function (map, id) {
      if (granted(stored, id)) map[id] = true;
      else if (stored.denied.indexOf(id) >= 0) map[id] = false;
    };
    categoryIds(config).forEach(function (c) {
      put(d.categories, c);
    });
    (config.services || []).forEach(function (s) {
      put(d.services, s.id);
    });
    return d;
  }
  /** Resolved choices as the cookie's sorted `granted` and `denied` (StoredDecision::from_choices). */
  function lists(choices) {
    var g = [];
    var d = [];
    [choices.categories, choices.services].forEach(function (map) {
      Object.keys(map).forEach(function (id) {
        (map[id] ? g : d).push(id);
      });
    });
    return { granted: sortedSet(g), denied: sortedSet(d) };
  }
  /** A stored decision's ids as window.keksdose.get() reports them: categories apart. */
  function split(config, stored) {
    var cats = config ? categoryIds(config) : BUILT_IN_CATEGORIES;
    var out = { categories: {}, services: {} };
    [stored.granted, stored.denied].forEach(function (ids, i) {
      ids.forEach(function (id) {
        out[cats.indexOf(id) >= 0 ? "categories" : "services"][id] = i === 0;
      });
    });
    return out;
  }
  // texts::BUILT_IN_CATEGORIES: categories before a site's config arrived.
  var BUILT_IN_CATEGORIES = ["necessary", "functional", "analytics", "marketing", "affiliate", "social"];

  // ---- Withdrawal: mirrors shared/src/withdrawal.rs (shared/vectors/withdrawal.json).
  /** withdrawal::reject_action: what "Nur Notwendige" records after `stored`. */
  function rejectAction(config, stored) {
    var necessary = servicesIn(config, NECESSARY).map(function (s) {
      return s.id;
    });
    var withdraws =
      !!stored &&
      stored.consent_id != null &&
      stored.granted.some(function (id) {
        return id !== NECESSARY && necessary.indexOf(id) < 0;
      });
    return withdraws ? "withdraw" : "reject_all";
  }
  /** Withdrawn::between: what `after` no longer allows of what `before` allowed. */
  function withdrawn(config, before, after) {
    var cats = categoryIds(config);
    var out = { services: [], categories: [] };
    before.granted.forEach(function (id) {
      if (!granted(after, id)) out[cats.indexOf(id) >= 0 ? "categories" : "services"].push(id);
    });
    return out;
  }
  /** withdrawal::refused_services: whose cookies go after `after`. */
  function refusedServices(config, after) {
    return (config.services || [])
      .filter(function (s) {
        return !granted(after, s.id);
      })
      .map(function (s) {
        return s.id;
      });
  }
  /** withdrawal::needs_reload: `ran` lists the data-consent ids of scripts that ran. */
  function needsReload(config, gone, ran) {
    return (
      !!(config.consent && config.consent.reload_on_withdraw) &&
      gone.services.concat(gone.categories).some(function (id) {
        return (
          ran.indexOf(id) >= 0 ||
          servicesIn(config, id).some(function (s) {
            return ran.indexOf(s.id) >= 0;
          })
        );
      })
    );
  }

  // ---- The ledger's answers (docs/contract.md, shared/src/api.rs). ----------------
  /**
   * What an answer to POST /v1/sites/{site}/consents means for the decision sent
   * (`status` 0: none came, or the browser hid it). One of
   * - `{receipt}`: recorded; the cookie takes its consent ID;
   * - `{later: seconds or null}`: not now (no answer, 408, 429, 5xx, and 403,
   *   an origin the site's operator has yet to allow): stays pending and is sent
   *   again with the same idempotency key, on this page after `Retry-After`;
   * - `{newConsent: true}`: the server does not know the consent ID (its data
   *   was reset, or the cookie copied): sent again as a new consent;
   * - `{askAgain: true}`: the server does not know the config version the
   *   decision was made on: it can never be proven, so the visitor decides again;
   * - `{refused: message}`: anything else will never be recorded as sent (a
   *   bug): it stops being sent and stays applied.
   * A 422 names its first problem by path: in `details`, or before the message's
   * first ": " (`consent_id: "…" is not a consent ID of site "…"`).
   */
  function answer(status, body, retryAfter) {
    if (status >= 200 && status < 300) {
      return body && isToken(String(body.consent_id)) ? { receipt: body } : { later: null };
    }
    if (status === 0 || status === 403 || status === 408 || status === 429 || status >= 500) {
      var secs = /^[0-9]{1,9}$/.test(String(retryAfter).trim()) ? Number(String(retryAfter).trim()) : null;
      return { later: secs };
    }
    var error = (body && body.error) || {};
    if (status === 422 && error.code === "invalid") {
      var path =
        error.details && error.details.length
          ? error.details[0].path
          : (/^([a-z_]+): /.exec(String(error.message)) || [])[1];
      if (path === "consent_id") return { newConsent: true };
      if (path === "config_version") return { askAgain: true };
    }
    return { refused: status + " " + (error.code || "") + ": " + (error.message || "") };
  }
  /** The action a decision keeps as a new consent: a withdrawal has nothing to withdraw. */
  function freshAction(action) {
    return action === "withdraw" ? "reject_all" : action;
  }

  /** The language the banner shows in: SiteConfig::language_for (language.json). */
  function choose(config, lang) {
    var langs = (config.site && config.site.languages) || ["de", "en"];
    var asked = String(lang || "").toLowerCase();
    var primary = asked.split("-")[0];
    var pick = null;
    langs.forEach(function (l) {
      if (pick === null && l.toLowerCase() === asked) pick = l;
    });
    langs.forEach(function (l) {
      if (pick === null && l.toLowerCase() === primary) pick = l;
    });
    return pick !== null ? pick : langs[0] || "de";
  }

  var core = {
    choose: choose,
    PREFIX: PREFIX,
    decode: decode,
    encode: encode,
    renewal: renewal,
    needsBanner: needsBanner,
    grantedSignals: grantedSignals,
    cookieMatches: cookieMatches,
    consentLifetimeSecs: consentLifetimeSecs,
    resolve: resolve,
    restate: restate,
    allowing: allowing,
    resend: resend,
    lists: lists,
    split: split,
    BUILT_IN_CATEGORIES: BUILT_IN_CATEGORIES,
    rejectAction: rejectAction,
    withdrawn: withdrawn,
    refusedServices: refusedServices,
    needsReload: needsReload,
    answer: answer,
    freshAction: freshAction,
  };
  if (root.__KEKSDOSE_TEST__) {
    root.__keksdoseCore = core;
    return;
  }

  // ---- The browser part. ------------------------------------------------------
  var doc = root.document;
  var embed = typeof SITE === "object" && SITE ? SITE : null;
  var brought = embed && embed.published; // used once: after forget(), fetched
  // Kept: and assigned here, SITE is no constant a minifier could fold before
  // the server writes the site in.
  SITE = null;
  var script =
    doc.currentScript ||
    doc.querySelector(embed ? 'script[src*="/s/"][src$="/k.js"]' : 'script[src*="k.js"][data-site]');
  var site = embed ? embed.published.site : script && script.getAttribute("data-site");
  if (!script || !site) {
    console.error("keksdose: embed https://CMP/s/SITE_ID/k.js, or k.js with data-site on its script tag");
    return;
  }
  var api = new URL(script.src, doc.baseURI).origin;

  var stored = readStored(); // the decision in force, or null
  var published = null; // GET /v1/sites/{site}/config, once fetched
  var configPromise = null;
  var banner = null; // {handle, host} while the banner is open
  var opening = null; // the openBanner call under way, until its banner is in the page
  var ran = []; // data-consent ids of scripts that ran, for reload_on_withdraw
  var seen = typeof WeakSet === "function" ? new WeakSet() : null;
  var listeners = [];
  var optOutHooks = []; // [{id, fn}] from keksdose.onOptOut / on("optout")
  var queue = Promise.resolve();
  var declared = null; // the declaration fragment the server sent last

  function cookieValue() {
    var parts = doc.cookie ? doc.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (parts[i].slice(0, eq) === PREFIX + site) return parts[i].slice(eq + 1);
    }
    return null;
  }
  function readStored() {
    var value = cookieValue();
    if (value === null) return null;
    var r = decode(value);
    return r.ok || null;
  }
  function writeStored(d, config) {
    var value = encode(d);
    var attrs = "; Path=/; Max-Age=" + consentLifetimeSecs(config) + "; SameSite=Lax";
    if (root.location.protocol === "https:") attrs += "; Secure";
    doc.cookie = PREFIX + site + "=" + value + attrs;
    stored = d;
  }

  function allowed(id) {
    return !!stored && stored.granted.indexOf(id) >= 0;
  }

  function fetchConfig() {
    if (!configPromise) {
      // The per-site loader brought it; else it is fetched (cached 60 s).
      var given = brought;
      brought = null;
      configPromise = (
        given
          ? Promise.resolve(given)
          : fetch(api + "/v1/sites/" + encodeURIComponent(site) + "/config?words=1", {
              credentials: "omit",
            }).then(function (r) {
              if (!r.ok) throw new Error("GET config: " + r.status);
              return r.json();
            })
      ).then(function (body) {
          published = body;
          var cm = body.config.consent_mode || {};
          if (cm.ads_data_redaction !== undefined) gtag("set", "ads_data_redaction", !!cm.ads_data_redaction);
          if (cm.url_passthrough) gtag("set", "url_passthrough", true);
          return body;
      });
      configPromise.catch(function () {
        configPromise = null; // try again next time
      });
    }
    return configPromise;
  }

  /**
   * The whole published config, for the banner's settings: the per-site loader
   * carries only the loader's view of it (SiteConfig::loader_view), so the
   * banner's WASM gets it from the config endpoint, fetched beside the WASM.
   */
  var fullPromise = null;
  function fullConfig() {
    if (!embed || !embed.view) return fetchConfig();
    if (!fullPromise) {
      fullPromise = fetch(api + "/v1/sites/" + encodeURIComponent(site) + "/config?words=1", {
        credentials: "omit",
      }).then(function (r) {
        if (!r.ok) throw new Error("GET config: " + r.status);
        return r.json();
      });
      fullPromise.catch(function () {
        fullPromise = null; // try again next time
      });
    }
    return fullPromise;
  }

  // -- Blocked elements ---------------------------------------------------------
  var BLOCKED = 'script[type="text/plain"][data-consent], iframe[data-consent][data-src]';

  function mark(el) {
    if (seen) {
      if (seen.has(el)) return false;
      seen.add(el);
    }
    if (el.hasAttribute("data-keksdose-done")) return false;
    el.setAttribute("data-keksdose-done", "");
    return true;
  }

  var waiting = []; // inline scripts still being parsed, in document order
  function followed(el) {
    for (var n = el; n; n = n.parentNode) if (n.nextSibling) return true;
    return false;
  }

  /** Activates every allowed blocked element in `scope`, in document order. */
  function apply(scope) {
    if (!stored) return;
    var list = [];
    if (scope.matches && scope.matches(BLOCKED)) list.push(scope);
    if (scope.querySelectorAll) list = list.concat(Array.prototype.slice.call(scope.querySelectorAll(BLOCKED)));
    list.forEach(function (el) {
      var id = el.getAttribute("data-consent");
      if (!allowed(id) || el.hasAttribute("data-keksdose-done")) return;
      // While the page is parsed, an inline script's text may not be complete yet:
      // it is once any node follows it in the document, and at DOMContentLoaded at
      // the latest. Until then it waits, and so does everything after it (which
      // cannot exist yet: it is the document's last node).
      if (el.tagName === "SCRIPT" && !el.hasAttribute("src") && doc.readyState === "loading" && !followed(el)) {
        if (waiting.indexOf(el) < 0) waiting.push(el);
        return;
      }
      if (!mark(el)) return;
      if (el.tagName === "IFRAME") {
        loadFrame(el);
        return;
      }
      // In the page's own order: external scripts are inserted at once (async =
      // false, so the browser runs them in order while it fetches them all in
      // parallel); an inline script runs once the external ones before it ran, and
      // the ones after it wait for it.
      queue = queue
        .then(function () {
          return runScript(el, id);
        })
        .catch(function (e) {
          console.error("keksdose: a consented script could not be inserted:", e);
        });
    });
  }

  // -- Two-click placeholders for blocked iframes ----------------------------------
  function loadFrame(el) {
    var ph = el.previousElementSibling;
    if (ph && ph.hasAttribute("data-keksdose-placeholder")) ph.parentNode.removeChild(ph);
    if (el.hasAttribute("data-keksdose-hidden")) {
      el.style.display = el.getAttribute("data-keksdose-hidden");
      el.removeAttribute("data-keksdose-hidden");
    }
    el.setAttribute("data-keksdose-done", "");
    var src = el.getAttribute("data-src");
    // Chromium may let the iframe's own about:blank navigation, begun when the
    // parser inserted it, commit over this one when both are under way at once
    // (a returning visitor's src is set while the page is parsed): the frame then
    // stays blank (about 1 in 40 page loads on a busy machine). So a frame that
    // has loaded and is still blank (readable: same origin as the page; a frame
    // that navigated to another origin throws) is sent again, twice at most.
    var tries = 0;
    var check = function () {
      var blank = false;
      try {
        blank = el.contentWindow.location.href === "about:blank";
      } catch (e) {
        /* another origin: it navigated */
      }
      if (!blank || tries++ >= 2) {
        el.removeEventListener("load", check);
        return;
      }
      el.setAttribute("src", src);
    };
    el.addEventListener("load", check);
    el.setAttribute("src", src);
  }

  /**
   * The placeholders' look, added to the page once. `:where()` gives it no
   * specificity, so any rule of the site's own wins; colours meet WCAG AA.
   */
  var PLACEHOLDER_CSS =
    ":where(.keksdose-placeholder){box-sizing:border-box;display:flex;flex-direction:column;justify-content:center;" +
    "align-items:flex-start;gap:.75em;width:100%;padding:1.25em;border:1px solid #c4c8cf;border-radius:8px;" +
    "background:#f3f4f6;color:#1f2328;line-height:1.45;text-align:left}" +
    ":where(.keksdose-placeholder) p{margin:0}" +
    ":where(.keksdose-placeholder) a{color:#0a4fbf;text-decoration:underline}" +
    ":where(.keksdose-placeholder-actions){display:flex;flex-wrap:wrap;gap:.5em}" +
    ":where(.keksdose-placeholder) button{font:inherit;margin:0;padding:.5em 1em;border:1px solid #1f2328;" +
    "border-radius:6px;background:#fff;color:#1f2328;cursor:pointer}" +
    ":where(.keksdose-placeholder) button:hover{background:#e6e8eb}" +
    ":where(.keksdose-placeholder) :focus-visible{outline:3px solid #0a4fbf;outline-offset:2px}";
  var placeholderSheet = false; // added to the page already
  function placeholderStyle() {
    if (placeholderSheet || doc.getElementById("keksdose-placeholder-style")) return;
    placeholderSheet = true;
    // A constructed stylesheet, adopted by the document: no `<style>` element,
    // so a page whose CSP has no 'unsafe-inline' in style-src still applies it.
    // Browsers without constructable stylesheets (Safari before 16.4) get one.
    if (typeof root.CSSStyleSheet === "function" && "adoptedStyleSheets" in doc) {
      try {
        var sheet = new root.CSSStyleSheet();
        sheet.replaceSync(PLACEHOLDER_CSS);
        doc.adoptedStyleSheets = Array.prototype.slice.call(doc.adoptedStyleSheets).concat([sheet]);
        return;
      } catch (e) {
        /* not constructable here: the element below */
      }
    }
    var style = doc.createElement("style");
    style.id = "keksdose-placeholder-style";
    style.textContent = PLACEHOLDER_CSS;
    (doc.head || doc.documentElement).appendChild(style);
  }

  /** Puts a placeholder before every blocked iframe in `scope` that is not allowed. */
  function placeholders(scope) {
    if (!published) return;
    var config = published.config;
    var frames = [];
    if (scope.matches && scope.matches("iframe[data-consent][data-src]")) frames.push(scope);
    if (scope.querySelectorAll) {
      frames = frames.concat(Array.prototype.slice.call(scope.querySelectorAll("iframe[data-consent][data-src]")));
    }
    if (!frames.length) return;
    var lang = choose(config, pageLang());
    // The site's words in that language, as the server resolved them (built in,
    // with the site's own texts over them; shared/texts/<lang>.toml).
    var words = (published.words && published.words[lang]) || {};
    var t = function (key) {
      return words["texts." + key] || "";
    };
    frames.forEach(function (el) {
      var id = el.getAttribute("data-consent");
      var prev = el.previousElementSibling;
      if (allowed(id) || el.hasAttribute("data-keksdose-done")) return;
      if (prev && prev.hasAttribute("data-keksdose-placeholder")) return;
      var service = (config.services || []).filter(function (sv) {
        return sv.id === id;
      })[0];
      // A service names itself and its provider (none: the site's own controller);
      // for a category id only the embed's host is known for sure.
      var host = "";
      try {
        host = new URL(el.getAttribute("data-src"), root.location.href).hostname;
      } catch (e) {
        /* not a URL: the id stands in */
      }
      var who = service ? service.name : host || id;
      var provider = service
        ? service.provider
          ? service.provider.name
          : (config.site.controller || {}).name
        : host || id;
      var box = doc.createElement("div");
      box.setAttribute("data-keksdose-placeholder", id);
      box.className = "keksdose-placeholder";
      box.lang = lang;
      var p = doc.createElement("p");
      p.textContent = t("placeholder")
        .split("{service}")
        .join(who)
        .split("{provider}")
        .join(provider || who);
      box.appendChild(p);
      if (service && service.privacy_policy_url) {
        var a = doc.createElement("a");
        a.href = service.privacy_policy_url;
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = t("provider_privacy");
        box.appendChild(a);
      }
      var actions = doc.createElement("div");
      actions.className = "keksdose-placeholder-actions";
      box.appendChild(actions);
      var button = function (attr, label, onClick) {
        var b = doc.createElement("button");
        b.type = "button";
        b.setAttribute(attr, "");
        b.textContent = label;
        b.addEventListener("click", onClick);
        actions.appendChild(b);
      };
      button("data-keksdose-load", t("load_content"), function () {
        loadFrame(el);
      });
      if (service) {
        button("data-keksdose-allow", t("always_allow"), function () {
          allowService(id);
        });
      }
      // The placeholder takes the iframe's place and, as far as known, its size.
      // Only plain pixel numbers: width="100%" is not 100 px.
      var px = function (name) {
        var v = el.getAttribute(name);
        return v && /^\d+$/.test(v.trim()) ? parseInt(v, 10) : 0;
      };
      var w = px("width");
      var h = px("height");
      var rect = el.getBoundingClientRect();
      if (w > 0 && h > 0) {
        box.style.maxWidth = w + "px";
        box.style.aspectRatio = w + " / " + h;
      } else if (rect.height > 0) {
        box.style.minHeight = Math.round(rect.height) + "px";
      }
      placeholderStyle();
      el.setAttribute("data-keksdose-hidden", el.style.display || "");
      el.style.display = "none";
      el.parentNode.insertBefore(box, el);
    });
  }

  /** "Immer erlauben": a custom decision, the stored one plus service `id`. */
  function allowService(id) {
    return fetchConfig().then(function (body) {
      var d = allowing(body.config, stored, id);
      return decide({
        action: d.action,
        categories: d.categories,
        services: d.services,
        configVersion: body.version,
        lang: choose(body.config, pageLang()),
      });
    });
  }

  // -- Trusted Types ------------------------------------------------------------------
  // A page that enforces Trusted Types (CSP `require-trusted-types-for 'script'`)
  // refuses a plain string as a script's `src`, text or event handler. The
  // loader's own policy, "keksdose" (the page's CSP allows it in `trusted-types`),
  // passes on unchanged only what the page itself marked up on a blocked script
  // (`<script type="text/plain" data-consent>`), once its consent exists; it is
  // private to the loader, made at the first such script. Without Trusted Types,
  // or when the page does not allow the name, the strings go as they are (and a
  // page that enforces Trusted Types refuses them, as it says it must).
  var policy; // undefined: not made yet; null: none
  function trustedPolicy() {
    if (policy !== undefined) return policy;
    policy = null;
    var tt = root.trustedTypes;
    if (tt && typeof tt.createPolicy === "function") {
      try {
        policy = tt.createPolicy("keksdose", {
          createScriptURL: function (url) {
            return url;
          },
          createScript: function (text) {
            return text;
          },
          // Only the server-rendered first layers this loader carries, and the
          // declaration the server just sent for the page's declaration element.
          createHTML: function (html) {
            for (var lang in (embed && embed.first) || {}) {
              if (own(embed.first, lang) && embed.first[lang] === html) return html;
            }
            if (declared !== null && html === declared) return html;
            throw new TypeError("keksdose: not a first layer or the declaration of this site");
          },
        });
      } catch (e) {
        console.error('keksdose: the page\'s CSP does not allow the Trusted Types policy "keksdose" (trusted-types)', e);
      }
    }
    return policy;
  }
  /**
   * `value`, the page's own markup on a blocked script (attribute `name`, or its
   * text when `name` is null), as that sink of a `<script>` takes it: a
   * TrustedScriptURL for `src`, a TrustedScript for its text and `on…` handlers.
   */
  function passOn(name, value) {
    var p = trustedPolicy();
    if (!p) return value;
    if (name === null || /^on/i.test(name)) return p.createScript(value);
    if (name.toLowerCase() === "src") return p.createScriptURL(value);
    return value;
  }

  var loads = []; // one promise per external script inserted: settled once it ran or failed
  function runScript(el, id) {
    var s = doc.createElement("script");
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (a.name !== "type" && a.name !== "data-consent" && a.name !== "data-keksdose-done" && a.name !== "nonce") {
        s.setAttribute(a.name, passOn(a.name, a.value));
      }
    }
    // A nonce (a page with `script-src 'nonce-…'` lets only such inline scripts
    // run) is copied through the property: browsers hide the attribute's value.
    if (el.nonce) s.nonce = el.nonce;
    s.setAttribute("data-keksdose-ran", id);
    if (ran.indexOf(id) < 0) ran.push(id);
    function insert() {
      if (el.parentNode) {
        el.parentNode.insertBefore(s, el);
        el.parentNode.removeChild(el);
      } else {
        (doc.head || doc.documentElement).appendChild(s); // the page removed it meanwhile
      }
    }
    if (el.hasAttribute("src")) {
      s.async = false;
      loads.push(
        new Promise(function (resolve) {
          s.onload = s.onerror = resolve;
        })
      );
      insert();
      return undefined; // the next script need not wait for this one to load
    }
    return Promise.all(loads).then(function () {
      s.text = passOn(null, el.text);
      insert();
    });
  }

  /**
   * Calls `fn` once the page has painted: at once if it has, else after its
   * first frame, so that the banner never holds back the page's own first paint.
   */
  function afterFirstPaint(fn) {
    var painted = false;
    try {
      painted = root.performance.getEntriesByType("paint").length > 0;
    } catch (e) {
      /* no paint timing: wait for a frame */
    }
    if (painted) return fn();
    afterNextPaint(fn);
  }

  /** Calls `fn` after the next frame has painted. */
  function afterNextPaint(fn) {
    if (typeof root.requestAnimationFrame !== "function") return setTimeout(fn, 0);
    root.requestAnimationFrame(function () {
      setTimeout(fn, 0);
    });
  }

  function ready(fn) {
    if (doc.readyState === "loading") doc.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  // -- Cookies of refused services -----------------------------------------------
  function expire(name, domain, path) {
    doc.cookie =
      name + "=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=" + path + (domain ? "; Domain=" + domain : "");
  }
  function deleteCookies(config, refused) {
    var names = (doc.cookie ? doc.cookie.split("; ") : []).map(function (c) {
      return c.split("=")[0];
    });
    var host = root.location.hostname;
    var domains = [""];
    var labels = host.split(".");
    if (!/^[0-9.]+$/.test(host) && host.indexOf(":") < 0) {
      for (var i = 0; i < labels.length - 1; i++) domains.push("." + labels.slice(i).join("."));
    }
    var paths = ["/"];
    var segs = root.location.pathname.split("/");
    for (var j = 2; j <= segs.length; j++) paths.push(segs.slice(0, j).join("/") || "/");
    (config.services || []).forEach(function (s) {
      if (refused.indexOf(s.id) < 0) return;
      (s.cookies || []).forEach(function (c) {
        var storage = c.storage || "cookie";
        if (storage === "cookie") {
          names.forEach(function (n) {
            if (!cookieMatches(c.name, n)) return;
            var ds = c.domain ? domains.concat([c.domain]) : domains;
            ds.forEach(function (d) {
              paths.forEach(function (p) {
                expire(n, d, p);
              });
            });
          });
        } else if (storage === "local_storage" || storage === "session_storage") {
          try {
            var st = storage === "local_storage" ? root.localStorage : root.sessionStorage;
            for (var k = st.length - 1; k >= 0; k--) {
              var key = st.key(k);
              if (key !== null && cookieMatches(c.name, key)) st.removeItem(key);
            }
          } catch (e) {
            /* storage blocked: nothing to delete */
          }
        }
      });
    });
  }

  // -- Decisions ------------------------------------------------------------------
  function randomKey() {
    var bytes = new Uint8Array(16);
    root.crypto.getRandomValues(bytes);
    var s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function signals() {
    return { gpc: root.navigator.globalPrivacyControl === true, dnt: root.navigator.doNotTrack === "1" };
  }

  function sendUpdate() {
    if (!stored || !published) return;
    gtag("consent", "update", grantedSignals(published.config, allowed));
  }

  /** POSTs `body`; resolves to what the answer means (the core's `answer`). */
  function post(body) {
    return fetch(api + "/v1/sites/" + encodeURIComponent(site) + "/consents", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    }).then(
      function (r) {
        var retryAfter = r.headers.get("Retry-After");
        return r.text().then(
          function (text) {
            var parsed = null;
            try {
              parsed = JSON.parse(text);
            } catch (e) {
              /* not JSON: the status alone decides */
            }
            return answer(r.status, parsed, retryAfter);
          },
          function () {
            return answer(0, null, null);
          }
        );
      },
      function () {
        return answer(0, null, null);
      }
    );
  }

  /**
   * Sends the decision whose idempotency key is `body.idempotency_key` and
   * settles the cookie by the answer: the receipt's consent ID, or `pending`
   * forgotten when it is refused for good, or kept for a later retry (once more
   * on this page when the server names a short Retry-After). An unknown consent
   * ID is sent again at once as a new consent; an unknown config version
   * forgets the decision. Resolves to the answer.
   */
  function send(body, config, retried) {
    var key = body.idempotency_key;
    return post(body)
      .then(function (a) {
        if (a.newConsent && body.consent_id) {
          delete body.consent_id;
          body.action = freshAction(body.action);
          return post(body);
        }
        return a;
      })
      .then(function (a) {
        var mine = stored && stored.pending === key;
        if (a.receipt && mine) {
          writeStored(Object.assign({}, stored, { pending: null, consent_id: a.receipt.consent_id, action: body.action }), config);
        } else if ((a.refused || a.newConsent) && mine) {
          console.error("keksdose: the ledger refused the decision (" + (a.refused || "unknown consent ID") + ")");
          writeStored(Object.assign({}, stored, { pending: null }), config);
        } else if (a.askAgain && mine) {
          console.error("keksdose: the ledger does not know the config version of the decision; asking again");
          forget();
        } else if (mine && !retried && a.later !== null && a.later !== undefined && a.later <= 60) {
          setTimeout(function () {
            if (stored && stored.pending === key) send(body, config, true);
          }, a.later * 1000);
        }
        return a;
      });
  }

  /** Forgets the decision in force (the cookie too): the banner asks again. */
  function forget() {
    var attrs = "; Path=/; Max-Age=0; SameSite=Lax";
    if (root.location.protocol === "https:") attrs += "; Secure";
    doc.cookie = PREFIX + site + "=" + attrs;
    stored = null;
    configPromise = null;
    fullPromise = null;
  }


  /**
   * Applies and records a decision event: from the banner (which brings its
   * `choices`, resolved in Rust), or from acceptAll/rejectAll and "Immer
   * erlauben" (resolved here, by the same rule).
   */
  function decide(event) {
    var config = published.config;
    var before = stored;
    var ids = lists(event.choices || resolve(config, event));
    var key = randomKey();
    var sig = signals();
    var d = {
      consent_id: before ? before.consent_id : null,
      pending: key,
      decided_at: Math.floor(Date.now() / 1000),
      config_version: event.configVersion,
      revision: revisionOf(config),
      action: event.action,
      signals: sig,
      granted: ids.granted,
      denied: ids.denied,
    };
    writeStored(d, config);
    var body = {
      config_version: event.configVersion,
      action: event.action,
      categories: event.categories || {},
      services: event.services || {},
      language: event.lang,
      signals: sig,
      idempotency_key: key,
      page: root.location.pathname,
    };
    if (d.consent_id) body.consent_id = d.consent_id;
    var sent = send(body, config);

    // Apply: newly allowed elements run; what lost its consent is told to the
    // site, then refused services lose their cookies.
    var gone = before ? withdrawn(config, before, d) : { services: [], categories: [] };
    optOut(gone);
    deleteCookies(config, refusedServices(config, d));
    sendUpdate();
    var reload = needsReload(config, gone, ran);
    // Not from inside the banner's own callback: after it returned.
    setTimeout(closeBanner, 0);
    apply(doc);
    emit();
    return sent.then(function (a) {
      declarations(); // with the consent ID the ledger gave
      // Reload only after the ledger answered (or failed), so the record is not lost.
      if (reload) root.location.reload();
      else if (a.askAgain) openBanner("first");
      return get();
    });
  }

  /**
   * Tells the site which services and categories lost their consent (the
   * core's `withdrawn`): the hooks registered for them, the "optout" listeners
   * and the `keksdose:optout` DOM event. They run before the refused services'
   * cookies are deleted, so a vendor's own opt-out (which may write an opt-out
   * marker) comes first and leftovers are removed after it.
   */
  function optOut(detail) {
    var gone = detail.services.concat(detail.categories);
    if (!gone.length) return;
    optOutHooks.slice().forEach(function (h) {
      if (h.id !== null && gone.indexOf(h.id) < 0) return;
      try {
        h.fn(h.id === null ? detail : h.id);
      } catch (e) {
        console.error("keksdose: opt-out hook failed:", e);
      }
    });
    doc.dispatchEvent(new CustomEvent("keksdose:optout", { detail: detail }));
  }

  /** Sends a decision left pending by an earlier page (same key: never two records). */
  function retryPending() {
    if (!stored || !stored.pending || !published) return;
    var config = published.config;
    var d = resend(config, stored);
    var body = {
      config_version: stored.config_version,
      action: d.action,
      categories: d.categories,
      services: d.services,
      language: choose(config, pageLang()),
      signals: stored.signals,
      idempotency_key: stored.pending,
      page: root.location.pathname,
    };
    if (stored.consent_id) body.consent_id = stored.consent_id;
    send(body, config).then(function (a) {
      if (a.askAgain) openBanner("first");
    });
  }

  function now() {
    return Math.floor(Date.now() / 1000);
  }

  // -- The banner -------------------------------------------------------------------
  function closeBanner() {
    if (!banner) return;
    if (banner.early) banner.early.stop();
    try {
      if (banner.handle) banner.handle.unmount();
    } catch (e) {
      /* already gone */
    }
    if (banner.host.parentNode) banner.host.parentNode.removeChild(banner.host);
    banner = null;
  }

  // The banner's module, instantiated: fetched once, the module and its WASM at
  // the same time. The server writes the current file names into WIDGET; served
  // from elsewhere, the loader asks the manifest first.
  var widgetPromise = null;
  function loadBanner() {
    if (!widgetPromise) {
      var names =
        typeof WIDGET === "object" && WIDGET
          ? Promise.resolve(WIDGET)
          : fetch(api + "/widget/manifest.json", { credentials: "omit" })
              .then(function (r) {
                if (!r.ok) throw new Error("GET manifest: " + r.status);
                return r.json();
              })
              .then(function (m) {
                // Kept: and assigned here, WIDGET is no constant a minifier
                // could fold before the server writes the names in.
                WIDGET = m;
                return m;
              });
      widgetPromise = names.then(function (m) {
        var wasm = fetch(api + "/widget/" + m.wasm, { credentials: "omit" });
        return import(api + "/widget/" + m.js).then(function (mod) {
          return mod.default({ module_or_path: wasm }).then(function () {
            return mod;
          });
        });
      });
      widgetPromise.catch(function () {
        widgetPromise = null; // try again next time
      });
    }
    return widgetPromise;
  }

  function pageLang() {
    return doc.documentElement.lang || root.navigator.language;
  }

  /**
   * Opens the banner in `layer`. With the per-site loader and the first layer,
   * the server's rendering of it shows at once (see showEarly), while the
   * banner's WASM loads and then takes over in its place.
   */
  function openBanner(layer) {
    if (banner || opening) return Promise.resolve();
    var call = {};
    opening = call;
    var slot = null;
    // Without a first layer of the server's to show, the banner is fetched
    // while the config is.
    var early = embed && layer === "first";
    var widget = early ? null : loadBanner();
    return fetchConfig()
      .then(function () {
        // The server's first layer, if it was rendered for the config in force.
        var markup =
          embed &&
          layer === "first" &&
          published.version === embed.published.version &&
          embed.first[choose(published.config, pageLang())];
        if (!markup) {
          return Promise.all([widget || loadBanner(), fullConfig()]);
        }
        return [null, null, markup];
      })
      .then(function (got) {
        return new Promise(function (resolve) {
          ready(function () {
            afterFirstPaint(resolve);
          });
        }).then(function () {
          var host = doc.createElement("div");
          host.id = "keksdose-root";
          doc.body.appendChild(host);
          slot = { host: host, handle: null, early: null };
          banner = slot;
          if (got[2]) {
            try {
              slot.early = showEarly(slot, got[2]);
            } catch (e) {
              // Not shown (a page enforcing Trusted Types without allowing the
              // policy "keksdose"): the banner's WASM needs no policy.
              console.error("keksdose: the server's first layer could not be shown:", e);
              return widgetAndConfig().then(function (both) {
                if (banner === slot) mountBanner(slot, both, { layer: layer });
              });
            }
            if (opening === call) opening = null;
            // Requested once the first layer has painted: its paint depends on
            // nothing but this script, and shows so (Lighthouse, too).
            return new Promise(function (resolve) {
              afterNextPaint(resolve);
            })
              .then(widgetAndConfig)
              .then(function (both) {
                takeOver(slot, both);
              });
          }
          mountBanner(slot, got, { layer: layer });
        });
      })
      .catch(function (e) {
        if (slot && slot.early && banner === slot) {
          // The server's first layer still records both answers; "Einstellungen"
          // asks for the banner again.
          slot.early.idle();
        } else if (!slot || banner === slot) {
          closeBanner();
        }
        console.error("keksdose: could not open the banner:", e);
      })
      .then(function () {
        if (opening === call) opening = null;
      });
  }

  /** The banner's module and the whole config it is mounted with. */
  function widgetAndConfig() {
    return Promise.all([loadBanner(), fullConfig()]);
  }

  /** Mounts the banner's WASM (`both`: its module and the whole config) into `slot`. */
  function mountBanner(slot, both, extra) {
    var mod = both[0];
    // The banner's decision names the version it showed; the loader records and
    // applies it with that config (a newer one than the per-site loader's, if
    // one was published since that was cached).
    if (both[1] && published && both[1].version !== published.version) published = both[1];
    var options = {
      config: both[1],
      lang: pageLang(),
      apiBase: api,
    };
    for (var k in extra) options[k] = extra[k];
    var value = cookieValue();
    if (stored && value) options.stored = value;
    slot.handle = mod.mount(
      slot.host,
      options,
      function (event) {
        decide(event);
      },
      function () {
        setTimeout(closeBanner, 0);
      }
    );
  }

  /**
   * The WASM arrived while the server's first layer shows: it renders the same
   * markup beside it (or the settings, if they were asked for) and replaces it
   * in the same task, the focused control staying focused. Nothing when the
   * visitor already answered on the server's layer.
   */
  function takeOver(slot, both) {
    var early = slot.early;
    if (banner !== slot || !early || early.done || early.taken) return;
    // The server's layer keeps working until the banner has replaced it (its
    // first render may yield to input): a click there in between is the
    // visitor's answer, and closing the banner unmounts the hidden one.
    early.taken = true;
    mountBanner(slot, both, {
      layer: early.settings ? "settings" : "first",
      focus: early.settings ? undefined : early.focused(),
      returnFocus: early.previous || undefined,
    });
  }

  /**
   * Shows the server-rendered first layer in `slot`'s shadow root, as the banner
   * renders it and with its stylesheet, before any WASM: "Alle akzeptieren" and
   * "Nur Notwendige" are recorded from here (the banner's rule, the core's
   * `rejectAction`); "Einstellungen" shows as busy until the banner takes over
   * with the settings. Focus moves into the dialog and stays trapped there;
   * the first layer cannot be closed.
   */
  // What Tab stops at in the dialog: widget/src/focus.rs's TABBABLE.
  var TABBABLE =
    'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';
  function showEarly(slot, markup) {
    var shadow = slot.host.attachShadow({ mode: "open" });
    adoptStyle(shadow, embed.css);
    var box = doc.createElement("div");
    box.setAttribute("data-keksdose-banner", "");
    var p = trustedPolicy();
    box.innerHTML = p ? p.createHTML(markup) : markup;
    shadow.appendChild(box);
    var dialog = box.querySelector('[role="dialog"]');
    var active = doc.activeElement;
    var early = {
      done: false,
      settings: false,
      previous: active && active !== doc.body && typeof active.focus === "function" ? active : null,
      offs: [],
    };
    function on(el, type, fn) {
      el.addEventListener(type, fn);
      early.offs.push(function () {
        el.removeEventListener(type, fn);
      });
    }
    function busy(on) {
      var button = box.querySelector('[data-action="settings"]');
      if (on) {
        button.setAttribute("aria-busy", "true");
        dialog.setAttribute("aria-busy", "true");
      } else {
        button.removeAttribute("aria-busy");
        dialog.removeAttribute("aria-busy");
      }
    }
    early.stop = function () {
      early.offs.splice(0).forEach(function (off) {
        off();
      });
    };
    // The focused control's place among those Tab stops at (widget/src/focus.rs):
    // the banner's markup is the same, so the same place is the same control.
    early.focused = function () {
      var a = shadow.activeElement;
      var i = Array.prototype.indexOf.call(dialog.querySelectorAll(TABBABLE), a);
      return i >= 0 ? i : undefined;
    };
    early.idle = function () {
      early.settings = false;
      busy(false);
    };
    on(box, "click", function (e) {
      var button = e.target && e.target.closest ? e.target.closest("[data-action]") : null;
      if (!button || early.done) return;
      var action = button.getAttribute("data-action");
      if (action === "settings") {
        if (early.settings || early.taken) return;
        early.settings = true;
        busy(true);
        widgetAndConfig()
          .then(function (both) {
            takeOver(slot, both);
          })
          .catch(function (err) {
            early.idle();
            console.error("keksdose: could not load the banner's settings:", err);
          });
        return;
      }
      if (action !== "accept_all" && action !== "reject_all") return;
      early.done = true;
      early.stop();
      // As the banner does: focus goes back first, then the decision.
      if (early.previous && early.previous.isConnected) early.previous.focus({ preventScroll: true });
      decide({
        action: action === "accept_all" ? "accept_all" : rejectAction(published.config, stored),
        categories: {},
        services: {},
        configVersion: published.version,
        lang: choose(published.config, pageLang()),
      });
    });
    // Tab and Shift-Tab stay inside the dialog (widget/src/focus.rs).
    on(dialog, "keydown", function (e) {
      if (e.key !== "Tab") return;
      var items = dialog.querySelectorAll(TABBABLE);
      var first = items[0];
      var last = items[items.length - 1];
      var a = shadow.activeElement;
      var inside = !!a && a !== dialog && dialog.contains(a);
      var target = e.shiftKey ? (!inside || a === first) && last : (!inside || a === last) && first;
      if (target) {
        e.preventDefault();
        target.focus({ preventScroll: true });
      }
    });
    // A press on the backdrop must not move focus out of the dialog.
    on(box, "mousedown", function (e) {
      var c = e.target && e.target.getAttribute && e.target.getAttribute("class");
      if (c && c.indexOf("kd-backdrop") === 0) e.preventDefault();
    });
    dialog.focus({ preventScroll: true });
    return early;
  }

  /** The banner's stylesheet in `shadow`, constructed where possible (as the banner does). */
  function adoptStyle(shadow, css) {
    if (typeof root.CSSStyleSheet === "function" && "adoptedStyleSheets" in shadow) {
      try {
        var sheet = new root.CSSStyleSheet();
        sheet.replaceSync(css);
        shadow.adoptedStyleSheets = [sheet];
        return;
      } catch (e) {
        /* not constructable here: the element below */
      }
    }
    var style = doc.createElement("style");
    style.textContent = css;
    shadow.appendChild(style);
  }

  // -- window.keksdose ----------------------------------------------------------------
  function get() {
    if (!stored) return null;
    var ids = split(published && published.config, stored);
    return {
      consentId: stored.consent_id,
      choices: ids.categories,
      services: ids.services,
      decidedAt: new Date(stored.decided_at * 1000).toISOString(),
      configVersion: stored.config_version,
    };
  }

  /**
   * The privacy page's `[data-keksdose-declaration]` elements get the site's
   * declaration as the server renders it, in the banner's language, with what
   * this visitor decided (again after each decision).
   */
  function declarations() {
    var els = doc.querySelectorAll("[data-keksdose-declaration]");
    if (!els.length) return;
    fetchConfig()
      .then(function (body) {
        var q = "?lang=" + encodeURIComponent(choose(body.config, pageLang()));
        if (stored && stored.consent_id) q += "&consent=" + encodeURIComponent(stored.consent_id);
        return fetch(api + "/v1/sites/" + encodeURIComponent(site) + "/declaration.html" + q, { credentials: "omit" });
      })
      .then(function (r) {
        if (!r.ok) throw new Error("GET declaration: " + r.status);
        return r.text();
      })
      .then(function (html) {
        declared = html;
        var p = trustedPolicy();
        for (var i = 0; i < els.length; i++) els[i].innerHTML = p ? p.createHTML(html) : html;
      })
      .catch(function (e) {
        console.error("keksdose: could not load the declaration:", e);
      });
  }

  function emit() {
    var detail = get();
    listeners.slice().forEach(function (fn) {
      try {
        fn(detail);
      } catch (e) {
        console.error("keksdose: change listener failed:", e);
      }
    });
    doc.dispatchEvent(new CustomEvent("keksdose:change", { detail: detail }));
  }

  /** accept_all / reject_all without the banner, resolved like the banner does. */
  function decideAll(accept) {
    return fetchConfig().then(function (body) {
      var config = body.config;
      return decide({
        action: accept ? "accept_all" : rejectAction(config, stored),
        categories: {},
        services: {},
        configVersion: body.version,
        lang: choose(config, pageLang()),
      });
    });
  }

  root.keksdose = {
    show: function () {
      return openBanner(stored ? "settings" : "first");
    },
    acceptAll: function () {
      return decideAll(true);
    },
    rejectAll: function () {
      return decideAll(false);
    },
    get: get,
    on: function (name, fn) {
      if (typeof fn !== "function") return;
      if (name === "change") listeners.push(fn);
      if (name === "optout") optOutHooks.push({ id: null, fn: fn });
    },
    onOptOut: function (id, fn) {
      if (typeof fn === "function") optOutHooks.push({ id: String(id), fn: fn });
    },
    allowed: allowed,
  };

  doc.addEventListener("click", function (e) {
    var el = e.target && e.target.closest ? e.target.closest("[data-consent-open]") : null;
    if (!el) return;
    e.preventDefault();
    openBanner("settings");
  });

  // -- Start --------------------------------------------------------------------------
  // A stored decision applies at once (only what it explicitly granted); the
  // config then says whether it still holds, and Consent Mode gets its update.
  // Blocked elements are taken once the document is parsed (an inline script's
  // text may not be complete before), then as they are added (single-page apps).
  // A stored decision applies at once to what the page has so far, and to what the
  // parser adds later (the observer), not only from DOMContentLoaded on; inline
  // scripts still being parsed are left to the next pass (see apply).
  apply(doc);
  new MutationObserver(function (records) {
    records.forEach(function (r) {
      for (var i = 0; i < r.addedNodes.length; i++) {
        // A node added after an inline script that waited completes it: those go
        // first, as they come first in the document.
        waiting.splice(0).forEach(apply);
        var node = r.addedNodes[i];
        if (node.nodeType === 1) {
          apply(node);
          placeholders(node);
        }
      }
    });
  }).observe(doc.documentElement, { childList: true, subtree: true });
  ready(function () {
    waiting = [];
    apply(doc);
    declarations();
  });
  fetchConfig().then(
    function (body) {
      ready(function () {
        placeholders(doc);
      });
      var reason = stored ? renewal(body.config, stored, now()) : { none: true };
      if (stored && !reason) {
        sendUpdate();
        retryPending();
      } else if (needsBanner(body.config)) {
        openBanner("first");
      }
    },
    function (e) {
      console.error("keksdose: could not load the site config:", e);
    }
  );
})(typeof window !== "undefined" ? window : globalThis);
