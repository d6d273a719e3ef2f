// Harmless local stand-in for pixabay (image search in the editor): records that it ran, shows
// placeholder results and sets the cookie the real service's CDN sets (Cloudflare's `__cf_bm`, 30 minutes).
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('pixabay');
  document.cookie = '__cf_bm=demo-' + Date.now() + '; path=/; max-age=1800; SameSite=Lax';
  var list = document.getElementById('image-results');
  if (list) { var li = document.createElement('li'); li.textContent = 'Pixabay: 5 Treffer (Platzhalter)'; list.appendChild(li); }
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
