// Keeps the staff app's own files on the device, so the page opens without
// a connection and scans made then wait in its queue. Network first (a new
// version of the app is taken as soon as the server is reachable), the
// cached copy when not. Calls to /app/rpc and /app/api are never cached.
'use strict';
const CACHE = 'chemledger-staff-app';
const FILES = ['/app/', '/app/app.js', '/app/signed_note.js', '/app/app.css'];

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(FILES)));
  self.skipWaiting();
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || !FILES.includes(url.pathname)) return;
  event.respondWith(fetch(event.request).then((response) => {
    const copy = response.clone();
    if (response.ok) caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    return response;
  }).catch(() => caches.match(event.request)));
});
