// Harmless local stand-in for intercom: records that it ran and sets the cookies the real service sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('intercom');
  document.cookie = 'intercom-id-abc123=demo-' + Date.now() + '; path=/; max-age=23328000; SameSite=Lax';
  document.cookie = 'intercom-session-abc123=demo-' + Date.now() + '; path=/; max-age=604800; SameSite=Lax';
  document.cookie = 'intercom-device-id-abc123=demo-' + Date.now() + '; path=/; max-age=23328000; SameSite=Lax';
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
