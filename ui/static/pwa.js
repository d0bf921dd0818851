// Pagebridge on a phone: the service worker (app shell only), the install
// button, and notifications while the app is open — a system notification
// when allowed, else a banner in the page — with a distinct tone and
// vibration for critical. A notification says only the priority and the
// thread's label (staff data), never a message's text.
(function () {
  'use strict';

  var body = document.body;

  if ('serviceWorker' in navigator && location.protocol === 'https:') {
    navigator.serviceWorker.register('/app/sw.js', { scope: '/app/' }).catch(function () { /* no worker: the app still works */ });
  }

  // Install: the browser offers it once the app qualifies.
  var deferred = null;
  var installButtons = [document.getElementById('install'), document.getElementById('install-app')].filter(Boolean);
  window.addEventListener('beforeinstallprompt', function (e) {
    e.preventDefault();
    deferred = e;
    installButtons.forEach(function (b) { b.hidden = false; });
  });
  installButtons.forEach(function (b) {
    b.addEventListener('click', function () {
      if (!deferred) { return; }
      deferred.prompt();
      deferred.userChoice.then(function () {
        deferred = null;
        installButtons.forEach(function (x) { x.hidden = true; });
      });
    });
  });
  window.addEventListener('appinstalled', function () { installButtons.forEach(function (x) { x.hidden = true; }); });

  // Profile page: the end of a presence in local time, and the offset
  // sent along with it.
  var until = document.getElementById('until');
  if (until) {
    var tz = document.getElementById('tz');
    if (tz) { tz.value = String(-new Date().getTimezoneOffset()); }
    var utc = until.getAttribute('data-utc');
    if (utc) {
      var d = new Date(utc);
      if (!isNaN(d.getTime())) {
        var pad = function (n) { return (n < 10 ? '0' : '') + n; };
        until.value = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' + pad(d.getHours()) + ':' + pad(d.getMinutes());
      }
    }
  }

  if (!body.dataset.person) { return; }

  var prefs = { sound: true, vibrate: true };
  fetch('/app/profile/preferences.json', { credentials: 'same-origin' }).then(function (r) {
    return r.ok ? r.json() : null;
  }).then(function (p) { if (p) { prefs = p; } }, function () { /* defaults */ });

  // Tones, made here (no audio file): critical is a two-tone alarm
  // repeated, anything else one short chime. Browsers let a page sound
  // only after the user touched it once.
  var audio = null;
  function audioContext() {
    if (!audio) {
      var AC = window.AudioContext || window.webkitAudioContext;
      if (!AC) { return null; }
      audio = new AC();
    }
    return audio;
  }
  document.addEventListener('pointerdown', function () {
    var ac = audioContext();
    if (ac && ac.state === 'suspended') { ac.resume(); }
  }, { passive: true });
  function tone(critical) {
    var ac = audioContext();
    if (!ac) { return; }
    var t = ac.currentTime;
    var notes = critical ? [988, 740, 988, 740, 988, 740] : [660];
    var len = critical ? 0.22 : 0.18;
    notes.forEach(function (f, i) {
      var o = ac.createOscillator();
      var g = ac.createGain();
      o.type = critical ? 'square' : 'sine';
      o.frequency.value = f;
      g.gain.setValueAtTime(0.0001, t + i * len);
      g.gain.exponentialRampToValueAtTime(critical ? 0.25 : 0.15, t + i * len + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + (i + 1) * len - 0.01);
      o.connect(g);
      g.connect(ac.destination);
      o.start(t + i * len);
      o.stop(t + (i + 1) * len);
    });
  }
  var patterns = { critical: [400, 120, 400, 120, 400, 120, 800], high: [250, 100, 250], normal: [180] };
  function alertUser(priority) {
    var critical = priority === 'critical';
    if (critical || prefs.sound) { tone(critical); }
    if ((critical || prefs.vibrate) && navigator.vibrate) { navigator.vibrate(patterns[priority] || patterns.normal); }
  }

  // In-page banner, when system notifications are not allowed.
  function banner(title, text, href, priority) {
    var box = document.getElementById('toasts');
    if (!box) {
      box = document.createElement('div');
      box.id = 'toasts';
      box.className = 'toasts';
      box.setAttribute('role', 'status');
      body.appendChild(box);
    }
    var a = document.createElement('a');
    a.className = 'toast prio-' + priority;
    a.href = href;
    var b = document.createElement('b');
    b.textContent = title;
    var s = document.createElement('span');
    s.textContent = text;
    a.appendChild(b);
    a.appendChild(s);
    box.insertBefore(a, box.firstChild);
    setTimeout(function () { if (a.parentNode) { a.parentNode.removeChild(a); } }, priority === 'critical' ? 60000 : 8000);
  }

  function notify(entry) {
    var priority = entry.priority || 'normal';
    var title = priority === 'critical' ? 'Critical page' : priority === 'high' ? 'High priority message' : 'New message';
    var text = entry.label || '';
    var href = '/app/threads/' + entry.id;
    alertUser(priority);
    if (window.Notification && Notification.permission === 'granted' && document.visibilityState !== 'visible') {
      try {
        var n = new Notification(title, { body: text, tag: entry.id, icon: '/static/icons/icon-192.png', requireInteraction: priority === 'critical' });
        n.onclick = function () { window.focus(); location.href = href; };
        return;
      } catch (e) { /* some platforms want the service worker's showNotification: fall back to the banner */ }
    }
    banner(title, text, href, priority);
  }

  document.addEventListener('pb:frame', function (e) {
    var ev = e.detail;
    if (ev.type === 'thread' && ev.message && ev.by !== body.dataset.person && ev.entry) {
      if (ev.entry.id === body.dataset.thread && document.visibilityState === 'visible') { return; }
      notify(ev.entry);
    }
  });

  // Profile page: ask for notifications (from a click, as browsers want)
  // and try the critical tone.
  var enable = document.getElementById('notify-enable');
  if (enable && window.Notification && Notification.permission === 'default') {
    enable.hidden = false;
    enable.addEventListener('click', function () {
      Notification.requestPermission().then(function () { enable.hidden = true; });
    });
  }
  var test = document.getElementById('notify-test');
  if (test) { test.addEventListener('click', function () { alertUser('critical'); }); }
}());
