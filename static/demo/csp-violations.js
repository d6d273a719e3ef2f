// Demo and tests only: collects the page's Content Security Policy and Trusted
// Types violations in window.__cspViolations and shows their count in #violations.
// Loaded before k.js, so that it sees everything the loader and the banner do.
(function () {
  var seen = (window.__cspViolations = []);
  document.addEventListener(
    "securitypolicyviolation",
    function (e) {
      seen.push({
        directive: e.effectiveDirective || e.violatedDirective,
        blocked: e.blockedURI,
        sample: e.sample,
        source: e.sourceFile + ":" + e.lineNumber,
      });
      var out = document.getElementById("violations");
      if (out) out.textContent = String(seen.length);
    },
    true
  );
})();
