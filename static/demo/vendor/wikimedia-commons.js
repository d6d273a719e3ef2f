// Harmless local stand-in for wikimedia-commons (image search in the editor): records that it ran,
// shows placeholder results and sets the cookies the real service sets (Wikimedia Cookie Statement).
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('wikimedia-commons');
  var day = new Date().toISOString().slice(0, 10);
  document.cookie = 'WMF-Last-Access=' + day + '; path=/; max-age=2592000; SameSite=Lax';
  document.cookie = 'WMF-Last-Access-Global=' + day + '; path=/; max-age=2592000; SameSite=Lax';
  document.cookie = 'GeoIP=DE:SN:Leipzig:demo; path=/; SameSite=Lax';
  var list = document.getElementById('image-results');
  if (list) { var li = document.createElement('li'); li.textContent = 'Wikimedia Commons: 4 Treffer (Platzhalter)'; list.appendChild(li); }
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
