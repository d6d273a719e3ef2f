// Harmless local stand-in for userlike: records that it ran and sets the cookies the real service sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('userlike');
  document.cookie = 'uslk_umm_12345_s=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
