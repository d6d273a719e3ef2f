// The console's one script: the config editor's live preview. Without it
// every page works as plain HTML (the editor's "Check and preview" button).
// As the config is typed, it is checked (POST …/config/draft, with the
// session's CSRF token) and, once valid, the preview's two layers reload with
// it; what is wrong is said in the status line below the editor.
(() => {
  'use strict';
  const area = document.getElementById('config');
  const frames = document.querySelectorAll('iframe[data-preview]');
  const status = document.getElementById('preview-status');
  if (!area || !frames.length || !status) return;
  const form = area.form;
  const csrf = form.querySelector('input[name=csrf]').value;
  const url = form.getAttribute('action') + '/draft';
  let timer = 0;
  let asked = 0;
  const check = async () => {
    const mine = ++asked;
    let answer;
    try {
      const r = await fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        body: new URLSearchParams({ csrf, config: area.value }),
      });
      answer = await r.json();
    } catch (e) {
      answer = { ok: false, message: String(e) };
    }
    if (mine !== asked) return; // a newer check is under way
    status.textContent = answer.message;
    status.className = answer.ok ? 'ok' : 'error';
    if (!answer.ok) return;
    for (const f of frames) {
      const u = new URL(f.getAttribute('src'), location.href);
      u.searchParams.delete('source');
      u.searchParams.delete('version');
      u.searchParams.set('draft', answer.version);
      f.setAttribute('src', u.pathname + u.search);
    }
  };
  area.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(check, 500);
  });
})();
