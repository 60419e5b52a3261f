// Desktop notifications (web-client.md 1.21): only after the person allowed them (a button in the
// settings asks the browser), only when the page is not in front, and each kind can be switched off.

const NOTIFY_TIMEOUT = 7000;

let workerRegistration = null;

/** Browsers that refuse `new Notification` from a page (Android) show them through a service worker. */
async function viaServiceWorker(title, options) {
  if (!('serviceWorker' in navigator)) return null;
  try {
    if (!workerRegistration) workerRegistration = await navigator.serviceWorker.register(new URL('../sw.js', import.meta.url));
    const reg = await navigator.serviceWorker.ready;
    await reg.showNotification(title, options);
    const list = await reg.getNotifications({ tag: options.tag });
    return list[list.length - 1] || null;
  } catch (err) {
    console.info('notifications are not available here', err);
    return null;
  }
}

export class Notifier {
  /** profile: Profile (its "notify" switch). */
  constructor(profile) {
    this.profile = profile;
    this.icon = new URL('../img/icon-192.png', import.meta.url).toString();
    this.shown = []; // titles, for the test hooks
  }

  get supported() {
    return typeof Notification !== 'undefined';
  }

  /** granted, denied, default (not asked yet) or unsupported. */
  get permission() {
    return this.supported ? Notification.permission : 'unsupported';
  }

  /** Ask the browser (must run from a click). */
  async request() {
    if (!this.supported) return 'unsupported';
    try {
      return await Notification.requestPermission();
    } catch {
      return Notification.permission;
    }
  }

  get enabled() {
    return !!this.profile.get('notify') && this.permission === 'granted';
  }

  /** Is the person looking at the page right now? */
  static pageActive() {
    return document.visibilityState === 'visible' && document.hasFocus();
  }

  /**
   * Show a notification unless they are off or the page is in front. sticky keeps it until closed;
   * returns an object with close(), or null.
   */
  show(title, { body = '', tag = '', sticky = false, always = false } = {}) {
    if (!this.enabled || (!always && Notifier.pageActive())) return null;
    const options = { body, tag: tag || undefined, icon: this.icon, requireInteraction: sticky };
    this.shown.push(title);
    let note = null;
    const handle = {
      close: () => {
        if (note) note.close();
      },
    };
    try {
      note = new Notification(title, options);
      note.onclick = () => {
        window.focus();
        note.close();
      };
    } catch {
      viaServiceWorker(title, options).then((n) => {
        note = n;
      });
    }
    if (!sticky) setTimeout(() => handle.close(), NOTIFY_TIMEOUT);
    return handle;
  }
}
