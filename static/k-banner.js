/*! Keksdose loader, its other half (k-banner.js): deciding. The rules that
 * make a decision (how choices resolve, taking consent back, what the
 * ledger's answers mean: mirrors of shared/src/decision.rs and
 * shared/src/withdrawal.rs, held to shared/vectors/ by tests/js/), recording
 * it with the ledger, and the banner: the server's first layer shown at once
 * (brought by the per-site loader, or fetched by /k.js with data-site), the
 * banner's WASM loaded beside it and taking its place with the settings.
 *
 * static/k.js loads it on a first visit and when the visitor has something
 * to decide (see there), as an ES module whose default export is called once with K: the
 * first half's rules, state (K.stored, K.published) and functions. The
 * per-site loader carries this function inline instead. Under test
 * (K.test) it returns its rules only. Served minified as
 * /widget/k-banner.HASH.js; this file stays the readable source.
 */
export default function (K) {
  "use strict";
  var root = K.root;
  var doc = K.doc;
  var api = K.api;
  var NECESSARY = K.NECESSARY;
  var isToken = K.isToken;
  var field = K.field;
  var own = K.own;
  var categoryIds = K.categoryIds;
  var choose = K.choose;
  var fetchConfig = K.fetchConfig;
  var pageLang = K.pageLang;
  var ran = K.ran;

  // ---- The rules. Encoding the cookie: mirrors shared/src/cookie.rs. ---------------
  var CODES = { accept_all: "a", reject_all: "r", custom: "c", withdraw: "w" };

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
    if (!granted.every(K.isId) || !denied.every(K.isId)) field("ids");
    if (K.overlaps(granted, denied)) K.fail("an id is both granted and denied");
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
    if (K.byteLength(value) > K.MAX_LEN) K.fail("longer than " + K.MAX_LEN + " bytes");
    return value;
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

  var rules = {
    encode: encode,
    cookieMatches: cookieMatches,
    resolve: resolve,
    restate: restate,
    allowing: allowing,
    resend: resend,
    lists: lists,
    rejectAction: rejectAction,
    withdrawn: withdrawn,
    refusedServices: refusedServices,
    needsReload: needsReload,
    answer: answer,
    freshAction: freshAction,
  };
  if (K.test) return rules;

  // ---- The browser part. ---------------------------------------------------------
  var banner = null; // {handle, host, early} while the banner is open
  var opening = null; // the openBanner call under way, until its banner is in the page

  function writeStored(d, config) {
    K.setCookie(encode(d), K.consentLifetimeSecs(config));
    K.stored = d;
  }

  /** Records `d` (an action and its switches) on the config `body` was published with. */
  function decideOn(body, d) {
    return decide({
      action: d.action,
      categories: d.categories || {},
      services: d.services || {},
      configVersion: body.version,
      lang: choose(body.config, pageLang()),
    });
  }

  /** "Immer erlauben": a custom decision, the stored one plus service `id`. */
  function allowService(id) {
    return fetchConfig().then(function (body) {
      return decideOn(body, allowing(body.config, K.stored, id));
    });
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

  /** POSTs `body`; resolves to what the answer means (the core's `answer`). */
  function post(body) {
    return fetch(api + "/v1/sites/" + encodeURIComponent(K.site) + "/consents", {
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
        var mine = K.stored && K.stored.pending === key;
        if (a.receipt && mine) {
          writeStored(Object.assign({}, K.stored, { pending: null, consent_id: a.receipt.consent_id, action: body.action }), config);
        } else if ((a.refused || a.newConsent) && mine) {
          console.error("keksdose: the ledger refused the decision (" + (a.refused || "unknown consent ID") + ")");
          writeStored(Object.assign({}, K.stored, { pending: null }), config);
        } else if (a.askAgain && mine) {
          console.error("keksdose: the ledger does not know the config version of the decision; asking again");
          K.forget();
        } else if (mine && !retried && a.later !== null && a.later !== undefined && a.later <= 60) {
          setTimeout(function () {
            if (K.stored && K.stored.pending === key) send(body, config, true);
          }, a.later * 1000);
        }
        return a;
      });
  }


  /**
   * Applies and records a decision event: from the banner, or from
   * acceptAll/rejectAll and "Immer erlauben"; resolved here, by the rule of
   * `Decision::resolve` (the core's vectors hold them equal).
   */
  function decide(event) {
    var config = K.published.config;
    var before = K.stored;
    var ids = lists(resolve(config, event));
    var key = randomKey();
    var sig = signals();
    var d = {
      consent_id: before ? before.consent_id : null,
      pending: key,
      decided_at: Math.floor(Date.now() / 1000),
      config_version: event.configVersion,
      revision: K.revisionOf(config),
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
    K.sendUpdate();
    var reload = needsReload(config, gone, ran);
    // Not from inside the banner's own callback: after it returned.
    setTimeout(closeBanner, 0);
    K.apply(doc);
    K.emit();
    return sent.then(function (a) {
      K.declarations(); // with the consent ID the ledger gave
      // Reload only after the ledger answered (or failed), so the record is not lost.
      if (reload) root.location.reload();
      else if (a.askAgain) openBanner("first");
      return K.get();
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
    K.optOutHooks.slice().forEach(function (h) {
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
    if (!K.stored || !K.stored.pending || !K.published) return;
    var config = K.published.config;
    var d = resend(config, K.stored);
    var body = {
      config_version: K.stored.config_version,
      action: d.action,
      categories: d.categories,
      services: d.services,
      language: choose(config, pageLang()),
      signals: K.stored.signals,
      idempotency_key: K.stored.pending,
      page: root.location.pathname,
    };
    if (K.stored.consent_id) body.consent_id = K.stored.consent_id;
    send(body, config).then(function (a) {
      if (a.askAgain) openBanner("first");
    });
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

  /**
   * Opens the banner in `layer`. The first layer: the server's rendering of it
   * (the per-site loader's, or /loader's) shows at once (see showEarly) and
   * stays: the banner's WASM loads meanwhile and takes its place only with the
   * settings.
   */
  function openBanner(layer) {
    if (banner || opening) return Promise.resolve();
    var call = {};
    opening = call;
    var slot = null;
    // The settings: the banner is fetched while the config is.
    var early = layer === "first";
    var widget = early ? null : K.loadBanner();
    return fetchConfig()
      .then(function () {
        // The server's first layer (what the per-site loader carries, fetched
        // with the config by /k.js), if it was rendered for the config in force
        // (a config fetched without it, from an older server: the banner's).
        var embed = K.embed;
        var markup =
          early &&
          embed &&
          K.published.version === embed.published.version &&
          embed.first[choose(K.published.config, pageLang())];
        if (!markup) {
          return Promise.all([widget || K.loadBanner(), K.bannerView()]);
        }
        return [null, null, markup, embed.css];
      })
      .then(function (got) {
        return new Promise(function (resolve) {
          K.ready(function () {
            K.afterFirstPaint(resolve);
          });
        }).then(function () {
          var host = doc.createElement("div");
          host.id = "keksdose-root";
          doc.body.appendChild(host);
          slot = { host: host, handle: null, early: null };
          banner = slot;
          if (got[2]) {
            try {
              slot.early = showEarly(slot, got[2], got[3]);
            } catch (e) {
              // Not shown (a page enforcing Trusted Types without allowing the
              // policy "keksdose"): the banner's WASM needs no policy.
              console.error("keksdose: the server's first layer could not be shown:", e);
              return widgetAndView().then(function (both) {
                if (banner === slot) mountBanner(slot, both, { layer: layer });
              });
            }
            if (opening === call) opening = null;
            // Fetched for the settings once the first layer's paint was
            // reported: that paint depends on nothing but this script, and
            // shows so (Lighthouse, too).
            return new Promise(afterLayerPaint).then(function () {
              // Not for a visitor who answered meanwhile.
              if (banner !== slot || slot.early.done) return;
              return widgetAndView().then(function () {
                // The settings would open at once (the tests' and the bench's sign).
                slot.host.setAttribute("data-ready", "");
              });
            });
          }
          mountBanner(slot, got, { layer: layer });
        });
      })
      .catch(function (e) {
        // The server's first layer stays: it records both answers, and
        // "Einstellungen" asks for the banner again.
        if (!slot || (banner === slot && !slot.early)) closeBanner();
        console.error("keksdose: could not " + (slot && slot.early ? "load the settings:" : "open the banner:"), e);
      })
      .then(function () {
        if (opening === call) opening = null;
      });
  }

  /**
   * Calls `fn` once the browser reported a largest contentful paint after the
   * server's first layer was shown (at most 500 ms later), the banner's WASM
   * and view being requested only then. A download done before the page's
   * largest paint counts in Lighthouse's simulated LCP (77 KB at slow 4G):
   * requested a frame after the layer showed, they raced that report, and the
   * LCP was 1 or 2 s. The cap: the page's own content is larger (no entry for
   * the layer) or there is no such entry type. "Einstellungen" asks for them at
   * once, without this wait.
   */
  function afterLayerPaint(fn) {
    var o, done;
    function go() {
      if (done) return;
      done = 1;
      if (o) o.disconnect();
      fn();
    }
    try {
      o = new PerformanceObserver(function (list) {
        // The layer's: no element, as the layer is in a shadow root (not
        // exposed to paint timing), unlike the page's own content, whose
        // largest paint may be reported after the layer was shown.
        list.getEntries().forEach(function (e) {
          if (!e.element) go();
        });
      });
      o.observe({ type: "largest-contentful-paint" });
    } catch (e) {
      /* no Performance Timeline: the cap */
    }
    setTimeout(go, 500);
  }

  /** The banner's module and the view of the config it is mounted with. */
  function widgetAndView() {
    return Promise.all([K.loadBanner(), K.bannerView()]);
  }

  /**
   * Mounts the banner's WASM (`both`: its module and its view of the config)
   * into `slot`. The view is of the config the loader decides with (its
   * version), so the decision is recorded and applied with the config shown.
   */
  function mountBanner(slot, both, extra) {
    var mod = both[0];
    var options = {
      view: both[1],
      apiBase: api,
    };
    for (var k in extra) options[k] = extra[k];
    // The consent cookie as decoded here (only a valid one is K.stored).
    var s = K.stored;
    if (s && K.cookieValue()) options.stored = { consent_id: s.consent_id, decided_at: s.decided_at, granted: s.granted };
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
   * "Einstellungen" on the server's first layer, the WASM there: the banner
   * renders the settings beside that layer and replaces it in the same task
   * (no second dialog, no slide-in), the focus on the settings' dialog and
   * returning, when the banner closes, to where it was before the first layer.
   * Only then: the server's layer does all the first layer does, and the
   * banner's first render (some 30–60 ms of main thread, most of it compiling
   * the WASM's functions on their first call) is not spent on the visitors who
   * answer there. Nothing when the visitor already answered.
   */
  function takeOver(slot, both) {
    var early = slot.early;
    if (banner !== slot || !early || early.done || slot.handle) return;
    // The server's layer keeps working until the banner has replaced it (its
    // first render may yield to input): a click there in between is the
    // visitor's answer, and closing the banner unmounts the hidden one.
    mountBanner(slot, both, { layer: "settings", fromFirst: true, returnFocus: early.previous || undefined });
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
  function showEarly(slot, markup, css) {
    var shadow = slot.host.attachShadow({ mode: "open" });
    adoptStyle(shadow, css);
    var box = doc.createElement("div");
    box.setAttribute("data-keksdose-banner", "");
    var p = K.trustedPolicy();
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
    early.idle = function () {
      early.settings = false;
      busy(false);
    };
    on(box, "click", function (e) {
      var button = e.target && e.target.closest ? e.target.closest("[data-action]") : null;
      if (!button || early.done) return;
      var action = button.getAttribute("data-action");
      if (action === "settings") {
        if (early.settings) return;
        early.settings = true;
        busy(true);
        widgetAndView()
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
      // The settings being mounted in its place ("Einstellungen" first) never show.
      if (slot.handle) slot.handle.unmount();
      slot.handle = null;
      // As the banner does: focus goes back first, then the decision.
      if (early.previous && early.previous.isConnected) early.previous.focus({ preventScroll: true });
      decideOn(K.published, {
        action: action === "accept_all" ? "accept_all" : rejectAction(K.published.config, K.stored),
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

  /** accept_all / reject_all without the banner, resolved like the banner does. */
  function decideAll(accept) {
    return fetchConfig().then(function (body) {
      return decideOn(body, { action: accept ? "accept_all" : rejectAction(body.config, K.stored) });
    });
  }

  return {
    openBanner: openBanner,
    decideAll: decideAll,
    allowService: allowService,
    retryPending: retryPending,
  };
}
