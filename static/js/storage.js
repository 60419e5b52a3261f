// Browser storage for our settings and login, with "remember me": when on, they are kept in
// localStorage; when off, in sessionStorage only (they survive a reload of this tab and are gone
// when it closes). All our keys start with "spreed-client-".

const PREFIX = 'spreed-client-';
const FORGET_FLAG = `${PREFIX}forget`; // in sessionStorage: "1" while remember me is off

function area(name) {
  try {
    const s = window[name];
    const probe = `${PREFIX}probe`;
    s.setItem(probe, '1');
    s.removeItem(probe);
    return s;
  } catch {
    return null; // storage disabled (private modes, policies)
  }
}

const local = area('localStorage');
const session = area('sessionStorage');
const memory = new Map();

function ownKeys(s) {
  const keys = [];
  if (!s) return keys;
  for (let i = 0; i < s.length; i++) {
    const k = s.key(i);
    if (k && k.startsWith(PREFIX) && k !== FORGET_FLAG) keys.push(k);
  }
  return keys;
}

export const store = {
  /** Is "remember me" on (the default)? */
  get remember() {
    return !(session && session.getItem(FORGET_FLAG) === '1');
  },

  _area() {
    return (this.remember ? local : session) || session || local;
  },

  get(key) {
    const s = this._area();
    if (!s) return memory.has(key) ? memory.get(key) : null;
    return s.getItem(key);
  },

  set(key, value) {
    const s = this._area();
    if (!s) {
      memory.set(key, value);
      return;
    }
    try {
      s.setItem(key, value);
    } catch (err) {
      console.warn('cannot store', key, err);
    }
  },

  remove(key) {
    memory.delete(key);
    for (const s of [local, session]) if (s) s.removeItem(key);
  },

  getJSON(key) {
    const raw = this.get(key);
    if (!raw) return null;
    try {
      return JSON.parse(raw);
    } catch {
      return null;
    }
  },

  setJSON(key, value) {
    this.set(key, JSON.stringify(value));
  },

  /** Switch remember me; our keys move to the other storage. */
  setRemember(on) {
    if (on === this.remember) return;
    const from = on ? session : local;
    const to = on ? local : session;
    if (!to) return;
    for (const key of ownKeys(from)) {
      to.setItem(key, from.getItem(key));
      from.removeItem(key);
    }
    if (session) {
      if (on) session.removeItem(FORGET_FLAG);
      else session.setItem(FORGET_FLAG, '1');
    }
  },
};
