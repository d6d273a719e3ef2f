// Harmless local stand-in for hotjar (used only by scan-wrong.html, where nothing
// declares or blocks it): records that it ran and sets the cookies the real script sets.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('hotjar');
  document.cookie = '_hjSessionUser_3141592=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  document.cookie = '_hjSession_3141592=demo-' + Date.now() + '; path=/; max-age=1800; SameSite=Lax';
})();
