// Presence: the other sessions in the room, their names, pictures and status lines
// (web-client.md 1.4, 3.8).

import { Emitter } from './events.js';
import { appURL } from './config.js';
import { t } from './i18n.js';

const MESSAGE_MAX = 100;

export class Buddies extends Emitter {
  constructor() {
    super();
    this.ownId = '';
    this.map = new Map(); // id -> buddy
    this.known = new Map(); // id -> {n, name, picture}: remembered after they leave (chat, calls)
    this.counter = 0;
    this.strangers = 0;
    this.blobs = new Map(); // data URL -> blob URL
  }

  _remember(id) {
    let k = this.known.get(id);
    if (!k) {
      k = { n: ++this.counter, name: '', picture: '' };
      this.known.set(id, k);
    }
    return k;
  }

  _upsert(doc) {
    if (!doc || !doc.Id || doc.Id === this.ownId) return null;
    let buddy = this.map.get(doc.Id);
    const isNew = !buddy;
    if (!buddy) {
      buddy = { id: doc.Id, userid: '', ua: '', status: null, rev: -1, since: Date.now() };
      this.map.set(doc.Id, buddy);
    }
    if (doc.Userid !== undefined) buddy.userid = doc.Userid;
    if (doc.Ua !== undefined) buddy.ua = doc.Ua;
    const rev = typeof doc.Rev === 'number' ? doc.Rev : null;
    if ('Status' in doc && (rev === null || rev >= buddy.rev)) {
      buddy.status = doc.Status && typeof doc.Status === 'object' ? doc.Status : null;
    }
    if (rev !== null && rev > buddy.rev) buddy.rev = rev;
    const k = this._remember(doc.Id);
    k.name = this._statusName(buddy) || k.name;
    k.picture = this.pictureOf(doc.Id) || k.picture;
    return { buddy, isNew };
  }

  /** Welcome.Users or Users: the full member list (own session included, skipped). */
  setAll(users, ownId) {
    this.ownId = ownId;
    const ids = new Set();
    for (const doc of users || []) {
      if (doc && doc.Id && doc.Id !== ownId) {
        ids.add(doc.Id);
        this._upsert(doc);
      }
    }
    for (const id of [...this.map.keys()]) if (!ids.has(id)) this.map.delete(id);
    this.emit('change');
  }

  joined(doc) {
    const r = this._upsert(doc);
    if (!r) return;
    this.emit('change');
    if (r.isNew) this.emit('joined', r.buddy);
  }

  left(doc) {
    const buddy = this.map.get(doc.Id);
    if (!buddy) {
      this.emit('left', { id: doc.Id, status: doc.Status, known: false });
      return;
    }
    this.map.delete(doc.Id);
    this.emit('change');
    this.emit('left', { id: doc.Id, status: doc.Status, known: true });
  }

  status(doc) {
    const r = this._upsert(doc);
    if (!r) return;
    this.emit('change');
    this.emit('status', r.buddy);
  }

  clear() {
    this.map.clear();
    this.emit('change');
  }

  has(id) {
    return this.map.has(id);
  }

  get(id) {
    return this.map.get(id) || null;
  }

  _statusName(buddy) {
    const name = buddy && buddy.status && buddy.status.displayName;
    return typeof name === 'string' ? name.trim().slice(0, 100) : '';
  }

  /** Display name with the fallbacks: "User n" for unnamed buddies, "Someone n" for strangers. */
  name(id) {
    const buddy = this.map.get(id);
    const named = this._statusName(buddy);
    if (named) return named;
    const k = this.known.get(id);
    if (k && k.name) return k.name;
    if (buddy || k) return t('User %s', this._remember(id).n);
    return t('Someone %s', this._remember(id).n);
  }

  message(id) {
    const buddy = this.map.get(id);
    const msg = buddy && buddy.status && buddy.status.message;
    return typeof msg === 'string' ? msg : '';
  }

  static shortMessage(text) {
    return text.length > MESSAGE_MAX ? `${text.slice(0, MESSAGE_MAX)}…` : text;
  }

  /** URL of a buddy picture: img:<id>/<name> from the server, or a data URL as sent by a peer. */
  pictureOf(id) {
    const buddy = this.map.get(id);
    const pic = buddy && buddy.status && buddy.status.buddyPicture;
    if (!pic || typeof pic !== 'string') {
      const k = this.known.get(id);
      return (k && k.picture) || '';
    }
    return this.pictureURL(pic);
  }

  pictureURL(pic) {
    if (pic.startsWith('img:')) return appURL(`static/img/buddy/s46/${pic.slice(4)}`);
    if (pic.startsWith('data:image/')) {
      let url = this.blobs.get(pic);
      if (!url) {
        try {
          const [head, body] = pic.split(',', 2);
          const mime = head.slice(5).split(';')[0];
          const bytes = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
          url = URL.createObjectURL(new Blob([bytes], { type: mime }));
          this.blobs.set(pic, url);
        } catch {
          return '';
        }
      }
      return url;
    }
    return '';
  }

  /** Sorted for the list: named buddies by name, then unnamed ones in order of appearance. */
  sorted() {
    const list = [...this.map.values()];
    const key = (b) => {
      const named = this._statusName(b);
      return named ? [0, named.toLocaleLowerCase(), 0] : [1, '', this._remember(b.id).n];
    };
    return list.sort((a, b) => {
      const ka = key(a);
      const kb = key(b);
      return ka[0] - kb[0] || ka[1].localeCompare(kb[1]) || ka[2] - kb[2];
    });
  }
}
