// Harmless local stand-in for segment: records that it ran and sets the cookies the real service sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('segment');
  document.cookie = 'ajs_anonymous_id=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  document.cookie = 'ajs_user_id=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
