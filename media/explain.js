// Explain panel script (loaded under a nonce CSP). Clicking a context span asks the extension to
// open it (by index: the webview never names files itself); hovering or focusing a token shows
// its probability in the detail line.
(function () {
  'use strict';
  const vscode = acquireVsCodeApi();
  const detail = document.getElementById('token-detail');

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
