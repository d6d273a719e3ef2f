// Harmless local stand-in for mixpanel: records that it ran and sets the cookies the real service sets.
// Like the real library it offers opt_out_tracking(), which the page calls from its opt-out hook.
(function () {
  var d = (window.__demo = window.__demo || { ran: [] });
  d.ran.push('mixpanel');
  document.cookie = 'mp_0a1b2c3d_mixpanel=demo-' + Date.now() + '; path=/; max-age=31536000; SameSite=Lax';
  window.mixpanel = {
    opt_out_tracking: function () {
      // The real library remembers the opt-out in this cookie (not one of the declared ones).
      document.cookie = '__mp_opt_in_out_0a1b2c3d=0; path=/; max-age=31536000; SameSite=Lax';
      (d.optedOut = d.optedOut || []).push('mixpanel');
      var out = document.getElementById('opted-out'); if (out) out.textContent = d.optedOut.join(', ');
    },
  };
  var out = document.getElementById('ran'); if (out) out.textContent = d.ran.join(', ');
})();
