// A minimal service worker. It caches nothing (the app needs the server anyway); it exists so that
// browsers which only show notifications through a service worker (Android) can show ours, and a
// tap on one brings the app's window to the front.

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: 'window', includeUncontrolled: true }).then((list) => {
    for (const client of list) {
      if ('focus' in client) return client.focus();
    }
    return undefined;
  }));
});
