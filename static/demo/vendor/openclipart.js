// Harmless local stand-in for openclipart (image search in the editor): records that it ran and
// shows placeholder results. It sets no cookie: Openclipart documents none (examples/sites/tutory.toml
// declares none). It contacts no host.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('openclipart');
  var list = document.getElementById('image-results');
  if (list) { var li = document.createElement('li'); li.textContent = 'Openclipart: 2 Treffer (Platzhalter)'; list.appendChild(li); }
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
