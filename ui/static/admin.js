// Administration pages: ask before a destructive form is sent. The form
// works without this script (the server checks everything again).
'use strict';
document.addEventListener('submit', (ev) => {
  const f = ev.target;
  if (f instanceof HTMLFormElement && f.classList.contains('confirm') && !window.confirm(f.dataset.confirm || 'Are you sure?')) {
    ev.preventDefault();
  }
});
