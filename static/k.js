/*! Keksdose loader (k.js): Consent Mode defaults, the consent cookie, blocked
 * scripts and iframes, and the banner on demand. Hand-written ES2017, no
 * dependencies; the build only minifies it. Embed with
 *   <script src="https://CMP/s/SITE_ID/k.js" async></script>
 * (the per-site form: the server writes the site's config and its first layer
 * into SITE, so the banner shows without waiting for the config or the WASM),
 * or with
 *   <script src="https://CMP/k.js" data-site="SITE_ID" async></script>
 *
 * The loader comes in two halves. This one is what every page view needs:
 * Consent Mode defaults first (before anything else runs), then the pure core
 * (reading the cookie, renewal, the language rule), then the browser part
 * (applying a stored decision to blocked scripts and iframes, placeholders,
 * window.keksdose). The other half, static/k-banner.js, decides: the rules that
 * make a decision (how choices resolve, taking consent back, what the ledger's
 * answers mean), recording it, and the banner. It is fetched on a first visit
 * (beside the config, before that says whether a banner shows) and when the
 * visitor has a decision to make (a banner to show, a pending decision, or a
 * call or click that decides); the per-site loader carries it inline (PART).
 *
 * The pure rules of both halves are loaded by tests/js/ in a `vm` sandbox with
 * `__KEKSDOSE_TEST__` set, where this file stops after exporting its core, and
 * are held there to the vectors shared/ publishes; the browser parts keep no
 * rule of their own. Served minified (static/widget/k.min.js, made by
 * `cargo xtask widget`); this file stays the readable source.
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
  // The file names of the banner and of the loader's other half
  // ({js, wasm, part}); the server writes them in place of the string.
  var WIDGET = "__KEKSDOSE_WIDGET__";
  // The per-site loader's site: {published, css, first: {lang: markup}}; the
  // server writes it in place of the string (/s/SITE_ID/k.js).
  var SITE = "__KEKSDOSE_SITE__";
  // The per-site loader's other half (static/k-banner.js's function), written
  // in by the server in place of the string; else it is imported when needed.
  var PART = "__KEKSDOSE_PART__";
  var MAX_LEN = 3800;
  var NECESSARY = "necessary";
  var ACTIONS = { a: "accept_all", r: "reject_all", c: "custom", w: "withdraw" };
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

  // ---- Choices: mirrors shared/src/decision.rs (shared/vectors/choices.json). ----
  function own(map, id) {
    return !!map && Object.prototype.hasOwnProperty.call(map, id);
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

  // The rules and helpers of this half that the tests and the other half
  // (static/k-banner.js) use; in a page, the browser part below adds its
  // state and functions (K).
  var core = {
    choose: choose,
    PREFIX: PREFIX,
    decode: decode,
    renewal: renewal,
    needsBanner: needsBanner,
    grantedSignals: grantedSignals,
    consentLifetimeSecs: consentLifetimeSecs,
    split: split,
    BUILT_IN_CATEGORIES: BUILT_IN_CATEGORIES,
    NECESSARY: NECESSARY,
    MAX_LEN: MAX_LEN,
    isToken: isToken,
    isId: isId,
    byteLength: byteLength,
    fail: fail,
    field: field,
    overlaps: overlaps,
    own: own,
    categoryIds: categoryIds,
    revisionOf: revisionOf,
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
  var inline = typeof PART === "function" ? PART : null;
  PART = null; // as SITE
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
  var published = null; // the config, once fetched (or brought): GET …/loader's `published`
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
  function allowed(id) {
    return !!stored && stored.granted.indexOf(id) >= 0;
  }

  /** GETs `url` (no cookies) as JSON; rejects on an error status. */
  function getJson(url) {
    return fetch(url, { credentials: "omit" }).then(function (r) {
      if (!r.ok) throw new Error("GET " + url + ": " + r.status);
      return r.json();
    });
  }
  /**
   * The site's published config (as the loader needs it, with the placeholders'
   * words), fetched with what the per-site loader carries beside it, the first
   * layer in each language the site offers: GET /v1/sites/{site}/loader.
   */
  function getConfig() {
    var path = api + "/v1/sites/" + encodeURIComponent(site);
    return getJson(path + "/loader").then(
      function (b) {
        K.embed = embed = b;
        return b.published;
      },
      function () {
        // A server from before /loader (during an upgrade; /k.js is cached
        // 5 min): the config, and the banner's own first layer.
        return getJson(path + "/config?words=1");
      }
    );
  }

  /**
   * `make`, called once: its promise, kept until it fails (then made again at
   * the next call) or `forget()`s it.
   */
  function once(make) {
    var promise = null;
    var get = function () {
      if (!promise) {
        promise = make();
        promise.catch(function () {
          promise = null; // try again next time
        });
      }
      return promise;
    };
    get.forget = function () {
      promise = null;
    };
    return get;
  }

  /** The published config: the per-site loader brought it; else it is fetched (cached 60 s). */
  var fetchConfig = once(function () {
    var given = brought;
    brought = null;
    return (given ? Promise.resolve(given) : getConfig()).then(function (body) {
      published = body;
      var cm = body.config.consent_mode || {};
      if (cm.ads_data_redaction !== undefined) gtag("set", "ads_data_redaction", !!cm.ads_data_redaction);
      if (cm.url_passthrough) gtag("set", "url_passthrough", true);
      return body;
    });
  });

  /**
   * The banner's view of the config the loader decides with, in the page's
   * language as it is now, everything worded by the server (GET
   * /v1/sites/{site}/banner): what the banner's WASM mounts with, fetched
   * beside it. Kept per version and language (a page may change its language).
   */
  var views = {};
  function bannerView() {
    return fetchConfig().then(function (body) {
      var lang = choose(body.config, pageLang());
      var key = body.version + " " + lang;
      if (!views[key]) {
        views[key] = getJson(
          api + "/v1/sites/" + encodeURIComponent(site) + "/banner?version=" +
            encodeURIComponent(body.version) + "&lang=" + encodeURIComponent(lang)
        );
        views[key].catch(function () {
          delete views[key]; // try again next time
        });
      }
      return views[key];
    });
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
          withPart("allowService", id);
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

  function sendUpdate() {
    if (!stored || !published) return;
    gtag("consent", "update", grantedSignals(published.config, allowed));
  }

  /** Sets the site's consent cookie to `value` for `maxAge` seconds (0: deletes it). */
  function setCookie(value, maxAge) {
    doc.cookie =
      PREFIX + site + "=" + value + "; Path=/; Max-Age=" + maxAge + "; SameSite=Lax" +
      (root.location.protocol === "https:" ? "; Secure" : "");
  }

  /** Forgets the decision in force (the cookie too): the banner asks again. */
  function forget() {
    setCookie("", 0);
    stored = null;
    fetchConfig.forget();
    views = {};
  }

  function now() {
    return Math.floor(Date.now() / 1000);
  }

  function pageLang() {
    return doc.documentElement.lang || root.navigator.language;
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

  // -- The other half (static/k-banner.js) ----------------------------------------
  /** The file names ({js, wasm, part}): written in by the server, else its manifest. */
  var names = once(function () {
    return typeof WIDGET === "object" && WIDGET
      ? Promise.resolve(WIDGET)
      : getJson(api + "/widget/manifest.json").then(function (m) {
          // Kept: and assigned here, WIDGET is no constant a minifier could
          // fold before the server writes the names in.
          WIDGET = m;
          return m;
        });
  });

  // The banner's module, instantiated: fetched once, the module and its WASM at
  // the same time. The server writes the current file names into WIDGET; served
  // from elsewhere, the loader asks the manifest first.
  var loadBanner = once(function () {
    return names().then(function (m) {
      var wasm = fetch(api + "/widget/" + m.wasm, { credentials: "omit" });
      return import(api + "/widget/" + m.js).then(function (mod) {
        return mod.default({ module_or_path: wasm }).then(function () {
          return mod;
        });
      });
    });
  });

  // What the other half is given: this half's rules (core), its state, read
  // and written through K, and the functions it calls.
  var K = core;
  Object.defineProperties(K, {
    stored: {
      get: function () {
        return stored;
      },
      set: function (d) {
        stored = d;
      },
    },
    published: {
      get: function () {
        return published;
      },
      set: function (body) {
        published = body;
      },
    },
  });
  Object.assign(K, {
    root: root,
    doc: doc,
    api: api,
    site: site,
    embed: embed,
    ran: ran,
    optOutHooks: optOutHooks,
    loadBanner: loadBanner,
    fetchConfig: fetchConfig,
    bannerView: bannerView,
    cookieValue: cookieValue,
    setCookie: setCookie,
    forget: forget,
    apply: apply,
    emit: emit,
    get: get,
    declarations: declarations,
    sendUpdate: sendUpdate,
    trustedPolicy: trustedPolicy,
    ready: ready,
    afterFirstPaint: afterFirstPaint,
    pageLang: pageLang,
  });

  /** The other half, made once: written in (per site) or imported. */
  var part = once(function () {
    return (
      inline
        ? Promise.resolve(inline)
        : names().then(function (m) {
            return import(api + "/widget/" + m.part).then(function (mod) {
              return mod.default;
            });
          })
    ).then(function (make) {
      return make(K);
    });
  });
  /** Calls the other half's `name` with `arg`, fetching it first if need be. */
  function withPart(name, arg) {
    var call = part().then(function (p) {
      return p[name](arg);
    });
    call.catch(function (e) {
      console.error("keksdose: could not " + name + ":", e);
    });
    return call;
  }

  /**
   * Opens the banner in `layer` (the other half does). The banner's WASM, which
   * the settings need, is fetched beside it (the first layer: the server's).
   */
  function openBanner(layer) {
    if (layer === "settings") loadBanner();
    return withPart("openBanner", layer).catch(function () {
      /* said in the console */
    });
  }

  root.keksdose = {
    show: function () {
      return openBanner(stored ? "settings" : "first");
    },
    acceptAll: function () {
      return withPart("decideAll", true);
    },
    rejectAll: function () {
      return withPart("decideAll", false);
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
  // A first visit needs the other half (to show the banner, or to find
  // that there is none): fetched beside the config.
  if (!stored && !inline) part().catch(function () {});
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
        if (stored.pending) withPart("retryPending");
      } else if (needsBanner(body.config)) {
        openBanner("first");
      }
    },
    function (e) {
      console.error("keksdose: could not load the site config:", e);
    }
  );
})(typeof window !== "undefined" ? window : globalThis);
