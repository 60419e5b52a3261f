// Rooms: the room named by the URL, Hello/Welcome, join errors, PINs, history and the welcome page
// state (web-client.md 1.2, 1.3, 2.5, 3.12).

import { Emitter } from './events.js';
import { cfg, roomFromLocation, roomPath, basePath, appURL, userAgentName } from './config.js';

const HISTORY_MAX = 15;

export class Rooms extends Emitter {
  /**
   * askPin(name, wrong) → Promise<string|null>: the UI prompt for a room PIN (null = cancel).
   */
  constructor(channel, { askPin }) {
    super();
    this.channel = channel;
    this.askPin = askPin;
    this.current = null; // {Name, Type} of the joined room
    this.wanted = roomFromLocation(); // room to be in; null = welcome page
    this.lastJoined = null; // name of the last room joined successfully
    this.pins = new Map();
    this.history = [];
    this.seq = 0;
    this.joining = false;
    window.addEventListener('popstate', () => this.join(roomFromLocation(), { history: 'none' }));
  }

  get name() {
    return this.current ? this.current.Name : null;
  }

  get isConference() {
    return !!this.current && this.current.Type === 'Conference';
  }

  /** The id the server gives the room (type:name); server-managed conferences use it as their Id. */
  get roomId() {
    return this.current ? `${this.current.Type}:${this.current.Name}` : '';
  }

  /** Join a room by name; history: 'push' (user action), 'replace' or 'none' (URL already right). */
  join(name, { history = 'push' } = {}) {
    name = String(name ?? '').split('/').filter(Boolean).join('/');
    if (history !== 'none') {
      const url = basePath + roomPath(name);
      if (url !== location.pathname) {
        if (history === 'push') window.history.pushState({ room: name }, '', url);
        else window.history.replaceState({ room: name }, '', url);
      }
    }
    this.wanted = name;
    this.hello();
  }

  /** Leave the current room: go to the default room (which may show the welcome page). */
  leave() {
    this.join('');
  }

  /** Send Hello for the wanted room (after Self, and again after every reconnect). */
  async hello() {
    if (this.wanted === null || !this.channel.connected || !this.channel.self) return;
    const name = this.wanted;
    const seq = ++this.seq;
    const hello = { Version: cfg.Version || '', Ua: userAgentName(), Name: name, Type: '' };
    if (this.pins.has(name)) hello.Credentials = { PIN: this.pins.get(name) };
    const features = this.features ? this.features() : [];
    if (features.length) hello.Features = features; // e.g. "sfu", only when Self offered it
    if (this.extendHello) this.extendHello(hello); // e.g. an invite token (moderation.js)
    this.joining = true;
    this.emit('joining', name);
    let reply;
    try {
      reply = await this.channel.request('Hello', hello);
    } catch {
      return; // disconnected: we say Hello again after reconnecting
    }
    if (seq !== this.seq) return; // a newer Hello is on its way
    this.joining = false;
    const data = reply.Data || {};
    if (data.Type === 'Welcome') {
      this._welcomed(data);
    } else if (data.Type === 'Error') {
      await this._failed(name, data);
    } else {
      this.emit('reply', { name, data }); // e.g. "waiting" in a locked room's lobby (moderation.js)
    }
  }

  _welcomed(data) {
    const previous = this.current;
    this.current = { Name: data.Room ? data.Room.Name : this.wanted, Type: data.Room ? data.Room.Type : 'Room' };
    this.lastJoined = this.current.Name;
    this.history = [this.current.Name, ...this.history.filter((n) => n !== this.current.Name)].slice(0, HISTORY_MAX);
    this.emit('joined', { room: this.current, users: data.Users || [], previous, welcome: data });
  }

  /** We are in no room any more without having asked (waiting in a lobby, removed, meeting ended). */
  detach() {
    const left = this.current;
    this.current = null;
    if (left) this.emit('left', left);
  }

  async _failed(name, error) {
    const code = error.Code;
    const left = this.current;
    this.current = null;
    if (left) this.emit('left', left);
    if (code === 'default_room_disabled') {
      this.wanted = null;
      this.emit('welcome', {});
      return;
    }
    if (code === 'authorization_required' || code === 'invalid_credentials') {
      this.pins.delete(name);
      const pin = await this.askPin(name, code === 'invalid_credentials');
      if (this.wanted !== name) return;
      if (pin === null || pin === undefined) {
        this._goBack(name);
        return;
      }
      this.pins.set(name, pin);
      this.hello();
      return;
    }
    if (code === 'authorization_not_required') {
      this.pins.delete(name);
      this.hello();
      return;
    }
    this.emit('error', { name, code, message: error.Message || code });
    if (code === 'room_join_requires_account') {
      // back to the room we were in; else the welcome page explains it (the default room would
      // most likely need an account as well)
      if (this.lastJoined !== null && this.lastJoined !== name) {
        this.join(this.lastJoined, { history: 'replace' });
      } else {
        this.wanted = null;
        this.emit('welcome', { gated: name });
      }
    }
  }

  /** After a cancelled or refused join: back to the room we were in, or to the default room. */
  _goBack(failed) {
    const target = this.lastJoined !== null && this.lastJoined !== failed ? this.lastJoined : '';
    if (target === failed) {
      this.wanted = null;
      this.emit('welcome', {});
      return;
    }
    this.join(target, { history: 'replace' });
  }

  /** The socket closed: we are in no room until the next Welcome. */
  disconnected() {
    this.seq++;
    this.joining = false;
    if (this.current) {
      this.emit('left', this.current, { disconnected: true });
    }
    this.current = null;
  }

  /** Show the welcome page without a room (used when the default room is off). */
  showWelcome() {
    this.wanted = null;
    this.emit('welcome', {});
  }

  /** Set (non-empty) or remove (empty) the PIN of the current room. */
  async setPin(pin) {
    if (!this.current) throw new Error('not in a room');
    const reply = await this.channel.request('Room', {
      Name: this.current.Name, Type: this.current.Type, Credentials: { PIN: pin },
    });
    const data = reply.Data || {};
    if (data.Type === 'Error') throw Object.assign(new Error(data.Message || data.Code), { code: data.Code });
    this.roomUpdate(data, { own: true });
    return data;
  }

  hasPin() {
    return !!this.current && this.pins.has(this.current.Name) && this.pins.get(this.current.Name) !== '';
  }

  /** A Room document (reply or broadcast): PIN changes are announced and remembered. */
  roomUpdate(data, { own = false } = {}) {
    if (!data || typeof data.Name !== 'string') return;
    if (this.current && data.Name === this.current.Name && data.Type) this.current.Type = data.Type;
    if (data.Credentials && typeof data.Credentials === 'object') {
      const pin = data.Credentials.PIN || '';
      if (pin) this.pins.set(data.Name, pin);
      else this.pins.delete(data.Name);
      this.emit('pin', { name: data.Name, pin, own });
    }
    this.emit('updated', this.current);
  }

  /** A random room name from the server (POST api/v1/rooms). */
  async randomName() {
    const res = await fetch(appURL('api/v1/rooms'), {
      method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: '',
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    const doc = await res.json();
    // the server answers {name, url} (the REST doc's "success" key does not exist in practice)
    if (!doc || typeof doc.name !== 'string' || !doc.name || doc.success === false) throw new Error('no room name');
    return doc.name;
  }
}
