// The user's own profile and preferences, kept in localStorage, and the Status document built
// from them (web-client.md 1.4, 1.9, 3.8).

import { Emitter } from './events.js';

const KEY = 'spreed-client-profile';
const DEFAULTS = Object.freeze({
  name: '', message: '', picture: '',
  camera: '', mic: '', speaker: '', quality: 'high',
  sounds: true,
});

export const QUALITIES = ['low', 'high', 'hd', 'fullhd'];

function load() {
  try {
    const raw = localStorage.getItem(KEY);
    return raw ? { ...DEFAULTS, ...JSON.parse(raw) } : { ...DEFAULTS };
  } catch {
    return { ...DEFAULTS };
  }
}

export class Profile extends Emitter {
  constructor() {
    super();
    this.data = load();
    if (!QUALITIES.includes(this.data.quality)) this.data.quality = DEFAULTS.quality;
  }

  get(key) {
    return this.data[key];
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
    if (!changed.length) return changed;
    try {
      localStorage.setItem(KEY, JSON.stringify(this.data));
    } catch (err) {
      console.warn('cannot store the profile', err);
    }
    this.emit('change', changed);
    return changed;
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
