// Harmless local stand-in for polyfill: records that it ran. The real service answered with
// the polyfills the browser's User-Agent needed and set no cookies, so this sets none either.
// Nothing here contacts polyfill.io: that domain has not been run by the Financial Times since
// February 2024 and has served malicious code since June 2024 (see the comment in sevdesk.toml).
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('polyfill');
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
