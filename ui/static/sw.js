// Pagebridge service worker: keeps the app shell (styles, scripts, icons,
// the offline page) so the app opens fast and says "offline" without a
// network. It never stores a thread, the inbox, an API answer or any page
// the server renders with data: those go to the network only, and a
// navigation without a network gets the offline page.
'use strict';

var CACHE = 'pagebridge-shell-v1';
var SHELL = [
  '/static/pagebridge.css',
  '/static/app.css',
  '/static/app.js',
  '/static/pwa.js',
  '/static/dispatch.js',
  '/static/icons/icon-192.png',
  '/static/icons/icon-512.png',
  '/app/offline'
];

self.addEventListener('install', function (e) {
  e.waitUntil(caches.open(CACHE).then(function (c) { return c.addAll(SHELL); }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener('activate', function (e) {
  e.waitUntil(caches.keys().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== CACHE; }).map(function (k) { return caches.delete(k); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener('fetch', function (e) {
  var req = e.request;
  if (req.method !== 'GET') { return; }
  var url = new URL(req.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.indexOf('/static/') === 0) {
    // The shell: from the cache, refreshed from the network when it
    // answers (only what the shell lists is kept).
    e.respondWith(caches.open(CACHE).then(function (c) {
      return c.match(req).then(function (hit) {
        var net = fetch(req).then(function (resp) {
          if (resp.ok && SHELL.indexOf(url.pathname) >= 0) { c.put(req, resp.clone()); }
          return resp;
        });
        return hit || net;
      });
    }));
    return;
  }
  if (req.mode === 'navigate') {
    // Pages: the network only; the offline page when there is none.
    e.respondWith(fetch(req).catch(function () { return caches.match('/app/offline'); }));
  }
  // Everything else (JSON, the socket, photos): the network, uncached.
});
