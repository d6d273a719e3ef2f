/*! Keksdose loader (k.js): Consent Mode defaults, the consent cookie, blocked
 * scripts and iframes, and the banner on demand. Hand-written ES2017, no build step,
 * no dependencies. Embed with
 *   <script src="https://CMP/k.js" data-site="SITE_ID" async></script>
 *
 * Layout of this file: Consent Mode defaults first (before anything else runs),
 * then the pure core (cookie format, renewal rules; loaded by tests/js/ in a
 * `vm` sandbox with `__KEKSDOSE_TEST__` set, where it stops after exporting the
 * core), then the browser part (applying decisions, the banner, window.keksdose).
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

  // ---- The core: mirrors shared/src/cookie.rs and shared/src/renewal.rs. -------
  // The cookie is per site (`keksdose_<site>`): sites sharing a host never
  // read each other's decisions.
  var PREFIX = "keksdose_";
  // The banner's file names; the server writes them in place of the string.
  var WIDGET = "__KEKSDOSE_WIDGET__";
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

  var core = {
    PREFIX: PREFIX,
    decode: decode,
    encode: encode,
    renewal: renewal,
    needsBanner: needsBanner,
    grantedSignals: grantedSignals,
    cookieMatches: cookieMatches,
    consentLifetimeSecs: consentLifetimeSecs,
  };
  if (root.__KEKSDOSE_TEST__) {
    root.__keksdoseCore = core;
    return;
  }

  // ---- The browser part. ------------------------------------------------------
  var doc = root.document;
  var script =
    doc.currentScript || doc.querySelector('script[src*="k.js"][data-site]');
  if (!script || !script.getAttribute("data-site")) {
    console.error("keksdose: k.js needs data-site on its script tag");
    return;
  }
  var site = script.getAttribute("data-site");
  var api = new URL(script.src, doc.baseURI).origin;

  var stored = readStored(); // the decision in force, or null
  var published = null; // GET /v1/sites/{site}/config, once fetched
  var configPromise = null;
  var banner = null; // {handle, host} while the banner is open
  var opening = false;
  var ran = {}; // data-consent ids of scripts that ran, for reload_on_withdraw
  var seen = typeof WeakSet === "function" ? new WeakSet() : null;
  var listeners = [];
  var optOutHooks = []; // [{id, fn}] from keksdose.onOptOut / on("optout")
  var queue = Promise.resolve();

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
      configPromise = fetch(api + "/v1/sites/" + encodeURIComponent(site) + "/config", {
        credentials: "omit",
      })
        .then(function (r) {
          if (!r.ok) throw new Error("GET config: " + r.status);
          return r.json();
        })
        .then(function (body) {
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
    el.setAttribute("src", el.getAttribute("data-src"));
  }

  // The built-in texts of shared/src/texts.rs (`placeholder`, `load_content`,
  // `always_allow`); a site's `[texts.<lang>]` overrides them like the banner's.
  var PLACEHOLDER = {
    de: {
      placeholder:
        "Hier ist ein Inhalt von {service} eingebettet. Beim Laden überträgt Ihr Browser Daten an {provider}.",
      privacy: "Datenschutzerklärung des Anbieters",
      load_content: "Inhalt laden",
      always_allow: "Immer erlauben",
    },
    en: {
      placeholder: "Content from {service} is embedded here. Loading it sends data from your browser to {provider}.",
      privacy: "The provider's privacy policy",
      load_content: "Load content",
      always_allow: "Always allow",
    },
  };

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
  function placeholderStyle() {
    if (doc.getElementById("keksdose-placeholder-style")) return;
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
    var lang = choose(config, doc.documentElement.lang || root.navigator.language);
    var t = Object.assign({}, PLACEHOLDER[lang] || PLACEHOLDER.en);
    var own = (config.texts && config.texts[lang]) || {};
    ["placeholder", "load_content", "always_allow"].forEach(function (k) {
      if (own[k]) t[k] = own[k];
    });
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
      var p = doc.createElement("p");
      p.textContent = t.placeholder
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
        a.textContent = t.privacy;
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
      button("data-keksdose-load", t.load_content, function () {
        loadFrame(el);
      });
      if (service) {
        button("data-keksdose-allow", t.always_allow, function () {
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
      var config = body.config;
      var choices = { categories: {}, services: {} };
      var services = {};
      (config.services || []).forEach(function (sv) {
        var on = sv.category === NECESSARY || sv.id === id || allowed(sv.id);
        choices.services[sv.id] = on;
        if (sv.category !== NECESSARY) services[sv.id] = on;
      });
      categoryIds(config).forEach(function (c) {
        var members = (config.services || []).filter(function (sv) {
          return sv.category === c;
        });
        choices.categories[c] =
          c === NECESSARY ||
          (members.length
            ? members.every(function (sv) {
                return choices.services[sv.id];
              })
            : allowed(c));
      });
      return decide({
        action: "custom",
        categories: {},
        services: services,
        choices: choices,
        configVersion: body.version,
        lang: choose(config, doc.documentElement.lang || root.navigator.language),
      });
    });
  }

  var loads = []; // one promise per external script inserted: settled once it ran or failed
  function runScript(el, id) {
    var s = doc.createElement("script");
    for (var i = 0; i < el.attributes.length; i++) {
      var a = el.attributes[i];
      if (a.name !== "type" && a.name !== "data-consent" && a.name !== "data-keksdose-done") {
        s.setAttribute(a.name, a.value);
      }
    }
    s.setAttribute("data-keksdose-ran", id);
    ran[id] = true;
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
      s.text = el.text;
      insert();
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

  /** POSTs `body`; resolves to the receipt, or null when it must be retried later. */
  function post(body) {
    return fetch(api + "/v1/sites/" + encodeURIComponent(site) + "/consents", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    }).then(
      function (r) {
        if (r.status === 201) return r.json();
        if (r.status >= 500 || r.status === 429 || r.status === 408) return null;
        return r.text().then(function (t) {
          console.error("keksdose: the ledger refused the decision (" + r.status + "): " + t);
          return false;
        });
      },
      function () {
        return null;
      }
    );
  }

  /** The receipt arrived (or was refused for good): the cookie forgets `pending`. */
  function acknowledge(receipt, key, config, action) {
    if (receipt === null || !stored || stored.pending !== key) return;
    var d = Object.assign({}, stored, { pending: null });
    if (receipt) {
      d.consent_id = receipt.consent_id;
      if (action) d.action = action;
    }
    writeStored(d, config);
  }

  function choose(config, lang) {
    var langs = (config.site && config.site.languages) || ["de"];
    var l = String(lang || "").toLowerCase().split("-")[0];
    return langs.indexOf(l) >= 0 ? l : langs[0];
  }

  /** Applies and records a decision event (from the banner or acceptAll/rejectAll). */
  function decide(event) {
    var config = published.config;
    var before = stored;
    var granted = [];
    var denied = [];
    [event.choices.categories, event.choices.services].forEach(function (map) {
      Object.keys(map).forEach(function (id) {
        (map[id] ? granted : denied).push(id);
      });
    });
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
      granted: sortedSet(granted),
      denied: sortedSet(denied),
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
    var sent = post(body)
      .then(function (receipt) {
        if (receipt === false && body.consent_id) {
          // The server does not know this consent ID for this site (its data
          // was reset, or the cookie was copied): start a new consent.
          delete body.consent_id;
          if (body.action === "withdraw") body.action = "reject_all";
          return post(body);
        }
        return receipt;
      })
      .then(function (receipt) {
        acknowledge(receipt, key, config, body.action);
        return get();
      });

    // Apply: newly allowed elements run; refused services lose their cookies.
    var refused = before
      ? before.granted.filter(function (id) {
          return denied.indexOf(id) >= 0;
        })
      : [];
    optOut(before);
    deleteCookies(config, denied);
    sendUpdate();
    var reload =
      config.consent &&
      config.consent.reload_on_withdraw &&
      refused.some(function (id) {
        return ran[id] || refusedCovers(config, id);
      });
    // Not from inside the banner's own callback: after it returned.
    setTimeout(closeBanner, 0);
    apply(doc);
    emit();
    if (reload) {
      // Reload only after the ledger answered (or failed), so the record is not lost.
      sent.then(function () {
        root.location.reload();
      });
    }
    return sent;
  }

  /**
   * Tells the site which services and categories lost their consent (allowed by
   * `before`, not by the decision now stored): the hooks registered for them, the
   * "optout" listeners and the `keksdose:optout` DOM event. They run before the
   * refused services' cookies are deleted, so a vendor's own opt-out (which may
   * write an opt-out marker) comes first and leftovers are removed after it.
   */
  function optOut(before) {
    if (!before) return;
    var gone = before.granted.filter(function (id) {
      return !allowed(id);
    });
    if (!gone.length) return;
    var cats = published ? categoryIds(published.config) : [];
    var detail = {
      services: gone.filter(function (id) {
        return cats.indexOf(id) < 0;
      }),
      categories: gone.filter(function (id) {
        return cats.indexOf(id) >= 0;
      }),
    };
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

  /** Whether a refused category covers a script that already ran. */
  function refusedCovers(config, categoryId) {
    return (config.services || []).some(function (s) {
      return s.category === categoryId && ran[s.id];
    });
  }

  /** Sends a decision left pending by an earlier page (same key: never two records). */
  function retryPending() {
    if (!stored || !stored.pending || !published) return;
    var config = published.config;
    var cats = {};
    var svcs = {};
    if (stored.action === "custom") {
      categoryIds(config).forEach(function (id) {
        if (id !== NECESSARY) cats[id] = allowed(id);
      });
      (config.services || []).forEach(function (s) {
        if (s.category !== NECESSARY) svcs[s.id] = allowed(s.id);
      });
    }
    var body = {
      config_version: stored.config_version,
      action: stored.action,
      categories: cats,
      services: svcs,
      language: choose(config, doc.documentElement.lang || root.navigator.language),
      signals: stored.signals,
      idempotency_key: stored.pending,
      page: root.location.pathname,
    };
    if (stored.consent_id) body.consent_id = stored.consent_id;
    var key = stored.pending;
    post(body).then(function (receipt) {
      acknowledge(receipt, key, config);
    });
  }

  function now() {
    return Math.floor(Date.now() / 1000);
  }

  // -- The banner -------------------------------------------------------------------
  function closeBanner() {
    if (!banner) return;
    try {
      banner.handle.unmount();
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
          : fetch(api + "/widget/manifest.json", { credentials: "omit" }).then(function (r) {
              if (!r.ok) throw new Error("GET manifest: " + r.status);
              return r.json();
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

  function openBanner(layer) {
    if (banner || opening) return Promise.resolve();
    opening = true;
    return Promise.all([fetchConfig(), loadBanner()])
      .then(function (both) {
        return both[1];
      })
      .then(function (mod) {
        return new Promise(function (resolve) {
          ready(resolve);
        }).then(function () {
          var host = doc.createElement("div");
          host.id = "keksdose-root";
          doc.body.appendChild(host);
          var options = {
            config: published,
            lang: doc.documentElement.lang || root.navigator.language,
            layer: layer,
            apiBase: api,
          };
          var value = cookieValue();
          if (stored && value) options.stored = value;
          var slot = { host: host, handle: null };
          banner = slot;
          slot.handle = mod.mount(
            host,
            options,
            function (event) {
              decide(event);
            },
            function () {
              setTimeout(closeBanner, 0);
            }
          );
        });
      })
      .catch(function (e) {
        closeBanner();
        console.error("keksdose: could not open the banner:", e);
      })
      .then(function () {
        opening = false;
      });
  }

  // -- window.keksdose ----------------------------------------------------------------
  function get() {
    if (!stored) return null;
    var cats = published ? categoryIds(published.config) : null;
    var choices = {};
    var services = {};
    function put(id, on) {
      var isCategory = cats ? cats.indexOf(id) >= 0 : /^(necessary|functional|analytics|marketing|affiliate|social)$/.test(id);
      (isCategory ? choices : services)[id] = on;
    }
    stored.granted.forEach(function (id) {
      put(id, true);
    });
    stored.denied.forEach(function (id) {
      put(id, false);
    });
    return {
      consentId: stored.consent_id,
      choices: choices,
      services: services,
      decidedAt: new Date(stored.decided_at * 1000).toISOString(),
      configVersion: stored.config_version,
    };
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
      var nonNecessary = function (id) {
        return id !== NECESSARY;
      };
      var choices = { categories: {}, services: {} };
      categoryIds(config).forEach(function (id) {
        choices.categories[id] = accept || id === NECESSARY;
      });
      (config.services || []).forEach(function (s) {
        choices.services[s.id] = accept || s.category === NECESSARY;
      });
      var action = accept ? "accept_all" : "reject_all";
      if (!accept && stored && stored.consent_id && stored.granted.some(function (id) {
        return nonNecessary(id) && !(config.services || []).some(function (s) {
          return s.id === id && s.category === NECESSARY;
        });
      })) {
        action = "withdraw";
      }
      return decide({
        action: action,
        categories: {},
        services: {},
        choices: choices,
        configVersion: body.version,
        lang: choose(config, doc.documentElement.lang || root.navigator.language),
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
