// Harmless local stand-in for google-ads: records that it ran and sets the cookies the real service sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('google-ads');
  document.cookie = '_gcl_au=demo-' + Date.now() + '; path=/; max-age=2592000; SameSite=Lax';
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
