// Harmless local stand-in for flickr (image search in the editor): records that it ran and shows
// placeholder results. It sets no cookie: Flickr documents none for its API and image servers
// (examples/sites/tutory.toml declares none). It contacts no host.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('flickr');
  var list = document.getElementById('image-results');
  if (list) { var li = document.createElement('li'); li.textContent = 'Flickr: 3 Treffer (Platzhalter)'; list.appendChild(li); }
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
