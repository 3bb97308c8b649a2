// Explain panel script (loaded under a nonce CSP). Clicking a context span asks the extension to
// open it (by index: the webview never names files itself); hovering or focusing a token shows
// its probability in the detail line. While the request runs, the pending page's Cancel button
// asks the extension to stop it, and `progress` messages fill the progress bar with the context's
// prefill (tokens read of all to read).
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const detail = document.getElementById('token-detail');

  const cancel = document.getElementById('cancel');
  if (cancel) {
    cancel.addEventListener('click', () => {
      cancel.disabled = true;
      cancel.textContent = 'Cancelling…';
      vscode.postMessage({ type: 'cancel' });
    });
  }
  const progress = document.getElementById('progress');
  const progressDetail = document.getElementById('progress-detail');
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || m.type !== 'progress' || !progress || !(m.total > 0)) return;
    progress.max = m.total;
    progress.value = Math.min(m.done, m.total);
    if (progressDetail) progressDetail.textContent = `Reading the context: ${m.done.toLocaleString('en-US')} of ${m.total.toLocaleString('en-US')} tokens`;
  });

  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('[data-span]') : null;
    if (!link) return;
    event.preventDefault();
    vscode.postMessage({ type: 'openSpan', index: Number(link.getAttribute('data-span')) });
  });

  const showDetail = (event) => {
    const tok = event.target instanceof Element ? event.target.closest('.tok[data-detail]') : null;
    if (tok && detail) detail.textContent = tok.getAttribute('data-detail');
  };
  document.addEventListener('mouseover', showDetail);
  document.addEventListener('focusin', showDetail);
})();
