// Harmless local stand-in for awin: records that it ran and sets the cookies the real service sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('awin');
  document.cookie = '_aw_m_12345=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  document.cookie = '_aw_sn_12345=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  document.cookie = 'AWSESS=demo-' + Date.now() + '; path=/; SameSite=Lax';
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
