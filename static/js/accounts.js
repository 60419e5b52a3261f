// User accounts (web-client.md 1.19; protocol.md 3.5, 3.6, 4.7.12). In sharedsecret mode we can
// create an account (POST api/v1/users), keep its login (useridcombo + secret) and sign in again on
// the next visit (PATCH api/v1/sessions/<id>/ → nonce → Authentication). In httpheader and
// certificate modes the server knows who we are at connect time; we only show it. In jwt mode an
// integrator's link `/<room>?jwt=<token>` signs us in once; the token leaves the address bar at once.

import { Emitter } from './events.js';
import { cfg, appURL } from './config.js';
import { store } from './storage.js';

const LOGIN_KEY = `spreed-client-login-${cfg.UsersMode || 'none'}`;

export class AccountError extends Error {
  constructor(code, message) {
    super(message || code);
    this.code = code;
  }
}

/**
 * Take `?jwt=` out of the address (and so out of history, bookmarks and shared screenshots) and
 * return it. Runs when this module loads, before anything reads or routes by the URL.
 */
function takeAddressToken(param) {
  const url = new URL(window.location.href);
  const token = url.searchParams.get(param);
  if (token === null) return '';
  url.searchParams.delete(param);
  window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
  return token.length <= 8192 ? token : '';
}

/** The claims of a JWT, unverified (the server verifies; we only read `name`), or {}. */
export function jwtClaims(token) {
  try {
    const part = String(token).split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return claims && typeof claims === 'object' ? claims : {};
  } catch {
    return {};
  }
}

const addressJwt = takeAddressToken('jwt');

/** The expiry (unix seconds) of a useridcombo "<expiry>:<userid>[:...]", or 0. */
function comboExpiry(combo) {
  const n = parseInt(String(combo).split(':')[0], 10);
  return Number.isFinite(n) ? n : 0;
}

export class Accounts extends Emitter {
  /** channel: Channel. */
  constructor(channel) {
    super();
    this.channel = channel;
    this.enabled = cfg.UsersEnabled === true;
    this.mode = cfg.UsersMode || '';
    this.canRegister = this.enabled && this.mode === 'sharedsecret' && cfg.UsersAllowRegistration === true;
    this.busy = false; // a login or registration is running: room joining waits
    this.triedFor = ''; // session id the automatic login ran for (once per session)
    this.lastError = '';
    this.shownUserid = '';
    this.pendingJwt = this.enabled && this.mode === 'jwt' ? addressJwt : ''; // used once, never stored
    channel.on('self', (self) => {
      if ((self.Userid || '') !== this.shownUserid) {
        this.shownUserid = self.Userid || '';
        this.emit('change');
      }
    });
  }

  /** The signed-in user id, from the last Self. */
  get userid() {
    const self = this.channel.self;
    return (self && self.Userid) || '';
  }

  get signedIn() {
    return !!this.userid;
  }

  /** The server signs us in by itself (proxy header or TLS certificate): no sign-out here. */
  get external() {
    return this.mode === 'httpheader' || this.mode === 'certificate';
  }

  /** Can the user give us a login (useridcombo + secret)? Only sharedsecret mode checks those. */
  get acceptsLogins() {
    return this.enabled && this.mode === 'sharedsecret';
  }

  storedLogin() {
    const login = store.getJSON(LOGIN_KEY);
    if (!login || typeof login.useridcombo !== 'string' || typeof login.secret !== 'string') return null;
    return login;
  }

  _remember(login) {
    store.setJSON(LOGIN_KEY, {
      userid: login.userid || '', useridcombo: login.useridcombo, secret: login.secret, timestamp: login.timestamp || comboExpiry(login.useridcombo),
    });
  }

  forget() {
    store.remove(LOGIN_KEY);
  }

  /** Should we sign in with the stored login now (a Self without Userid)? */
  wantsAutoLogin(self) {
    if (!self || self.Userid || this.busy || this.triedFor === self.Id) return false;
    if (this.pendingJwt) return true;
    return this.acceptsLogins && !!this.storedLogin();
  }

  async _json(method, path, body) {
    let res;
    try {
      res = await fetch(appURL(path), {
        method, credentials: 'same-origin', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
    } catch (err) {
      throw new AccountError('network', err.message);
    }
    let doc = null;
    try {
      doc = await res.json();
    } catch {
      doc = null;
    }
    if (!res.ok || !doc || doc.success === false) {
      throw new AccountError((doc && doc.code) || `http_${res.status}`, (doc && doc.message) || `HTTP ${res.status}`);
    }
    return doc;
  }

  /** Trade a login for a nonce (PATCH) and present it on the websocket. */
  async _login(login) {
    const self = this.channel.self;
    if (!self) throw new AccountError('offline', 'not connected');
    const expiry = comboExpiry(login.useridcombo);
    if (expiry && expiry * 1000 < Date.now()) throw new AccountError('expired', 'login expired');
    // session ids are URL-safe base64 ("=" included), which the path takes as it is
    const id = String(self.Id).replace(/[^A-Za-z0-9_=.~-]/g, (c) => encodeURIComponent(c));
    const doc = await this._json('PATCH', `api/v1/sessions/${id}/`, {
      id: self.Id, sid: self.Sid, useridcombo: login.useridcombo, secret: login.secret,
    });
    await this._authenticate(doc.userid, doc.nonce);
    return doc.userid;
  }

  async _authenticate(userid, nonce) {
    if (!userid || !nonce) throw new AccountError('no_nonce', 'no nonce');
    const reply = await this.channel.request('Authentication', { Type: 'Authentication', Authentication: { Userid: userid, Nonce: nonce } });
    const data = reply.Data || {};
    if (data.Type === 'Error') throw new AccountError(data.Code || 'error', data.Message);
    if (data.Type !== 'Self' || data.Userid !== userid) throw new AccountError('not_authenticated', 'no user id in Self');
  }

  async _run(fn) {
    this.busy = true;
    this.lastError = '';
    this.emit('change');
    try {
      return await fn();
    } catch (err) {
      this.lastError = err.code || 'error';
      throw err;
    } finally {
      this.busy = false;
      this.emit('change');
    }
  }

  /** Trade the link's JWT for a nonce; the token is used once, whatever the answer. */
  async _jwtLogin(token) {
    const self = this.channel.self;
    const id = String(self.Id).replace(/[^A-Za-z0-9_=.~-]/g, (c) => encodeURIComponent(c));
    const doc = await this._json('PATCH', `api/v1/sessions/${id}/`, { id: self.Id, sid: self.Sid, jwt: token });
    this.pendingJwt = '';
    await this._authenticate(doc.userid, doc.nonce);
    return doc.userid;
  }

  /** Sign in with the link's JWT or the stored login (once per session). Resolves true when signed in. */
  async autoLogin() {
    const self = this.channel.self;
    const token = this.pendingJwt;
    const login = token ? null : this.storedLogin();
    if (!self || (!token && !login)) return false;
    this.triedFor = self.Id;
    try {
      await this._run(() => (token ? this._jwtLogin(token) : this._login(login)));
      const name = token ? jwtClaims(token).name : '';
      this.emit('signed-in', { auto: true, name: typeof name === 'string' ? name.slice(0, 100) : '' });
      return true;
    } catch (err) {
      // a login the server refuses is of no use any more; a network problem may pass
      if (err.code !== 'network' && err.code !== 'offline') {
        if (token) this.pendingJwt = '';
        else this.forget();
        this.emit('login-failed', err);
      }
      return false;
    }
  }

  /** Sign in with a login the user pasted (sharedsecret mode). */
  async signIn(useridcombo, secret) {
    const login = { useridcombo: String(useridcombo).trim(), secret: String(secret).trim() };
    if (!login.useridcombo || !login.secret) throw new AccountError('incomplete', 'incomplete login');
    const userid = await this._run(() => this._login(login));
    this._remember({ ...login, userid });
    this.emit('signed-in', { auto: false });
    return userid;
  }

  /** Create an account for this session (sharedsecret registration) and sign in with it. */
  async register() {
    if (!this.canRegister) throw new AccountError('not_allowed', 'registration is off');
    const self = this.channel.self;
    if (!self) throw new AccountError('offline', 'not connected');
    const userid = await this._run(async () => {
      const doc = await this._json('POST', 'api/v1/users', { id: self.Id, sid: self.Sid });
      if (!doc.useridcombo || !doc.secret) throw new AccountError('bad_reply', 'no login in the reply');
      this._remember(doc);
      if (doc.nonce) await this._authenticate(doc.userid, doc.nonce);
      else await this._login(doc);
      return doc.userid;
    });
    this.emit('signed-in', { auto: false, registered: true });
    return userid;
  }

  /** Forget the login and start over with a new anonymous session. */
  signOut() {
    this.forget();
    this.triedFor = '';
    this.shownUserid = '';
    this.emit('signed-out');
    this.emit('change');
  }
}
