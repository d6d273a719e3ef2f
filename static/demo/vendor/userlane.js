// Harmless local stand-in for userlane: records that it ran and keeps what the real service keeps
// (local storage under the `userlane*` prefix, as examples/sites/saas.toml declares it).
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('userlane');
  try { localStorage.setItem('userlane_user', 'demo-' + Date.now()); } catch (e) { /* storage blocked */ }
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
