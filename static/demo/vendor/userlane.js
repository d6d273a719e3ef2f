// Harmless local stand-in for userlane: records that it ran and sets the cookies the real service sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('userlane');
  document.cookie = 'userlane_user=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
