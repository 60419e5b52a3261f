// The user's own profile and preferences, kept in browser storage (see storage.js for "remember
// me"), and the Status document built from them (web-client.md 1.4, 1.9, 1.21, 3.8).

import { Emitter } from './events.js';
import { store } from './storage.js';

const KEY = 'spreed-client-profile';
const DEFAULTS = Object.freeze({
  name: '', message: '', picture: '',
  camera: '', mic: '', speaker: '', quality: 'high',
  language: '', // '' = from the browser
  sounds: true, // all sounds
  soundRing: true, // ringing and dialling
  soundMessages: true, // chat messages
  soundJoinLeave: false, // someone joins or leaves the room
  notify: true, // desktop notifications (when the browser allows them)
});

export const QUALITIES = ['low', 'high', 'hd', 'fullhd'];

export class Profile extends Emitter {
  constructor() {
    super();
    const stored = store.getJSON(KEY);
    this.firstRun = !stored;
    this.data = { ...DEFAULTS, ...(stored && typeof stored === 'object' ? stored : {}) };
    if (!QUALITIES.includes(this.data.quality)) this.data.quality = DEFAULTS.quality;
  }

  get(key) {
    return this.data[key];
  }

  get remember() {
    return store.remember;
  }

  /** Change some fields, store them and tell listeners which ones changed. */
  update(changes) {
    const changed = [];
    for (const [k, v] of Object.entries(changes)) {
      if (!(k in DEFAULTS)) continue;
      if (this.data[k] !== v) {
        this.data[k] = v;
        changed.push(k);
      }
    }
    this.save();
    if (changed.length) this.emit('change', changed);
    return changed;
  }

  save() {
    store.setJSON(KEY, this.data);
    this.firstRun = false;
  }

  /** Keep settings (and the login) after the browser closes, or only for this tab. */
  setRemember(on) {
    store.setRemember(!!on);
    this.save();
  }

  /** The Status payload published to the room. */
  status() {
    return {
      displayName: this.data.name || '',
      buddyPicture: this.data.picture || '',
      message: this.data.message || '',
    };
  }
}
