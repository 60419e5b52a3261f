// The channeling websocket: envelopes, Iid requests, keep-alive, TURN refresh and reconnects
// with the session token (web-client.md 3.1, 3.9-3.11).

import { Emitter } from './events.js';

const CONNECT_TIMEOUT = 5000;
const CONNECT_TIMEOUT_STEP = 5000;
const CONNECT_TIMEOUT_MAX = 20000;
const ALIVE_AFTER = 5000;
const DEAD_AFTER = 11500;
const RECONNECT_STEP = 500;
const RECONNECT_MAX = 10000;
const REQUEST_TIMEOUT = 15000;
// sent only while connected, never queued (they make no sense on a later connection)
const NOT_QUEUED = new Set(['Self', 'Hello', 'Room', 'Alive', 'Sessions', 'Authentication']);

export class Channel extends Emitter {
  constructor(url) {
    super();
    this.url = url;
    this.ws = null;
    this.connected = false;
    this.everConnected = false;
    this.token = '';
    this.self = null;
    this.queue = [];
    this.pending = new Map();
    this.nextIid = 1;
    this.attempt = 0;
    this.connectTimeout = CONNECT_TIMEOUT;
    this.lastReceived = 0;
    this.aliveSent = false;
    this.reconnectTimer = 0;
    this.connectTimer = 0;
    this.refreshTimer = 0;
    this.enabled = false;
    this.heartbeat = setInterval(() => this._beat(), 1000);
  }

  /** Start connecting (and keep reconnecting until stop()). */
  start() {
    this.enabled = true;
    if (!this.ws) this._open();
  }

  stop() {
    this.enabled = false;
    clearTimeout(this.reconnectTimer);
    if (this.ws) this.ws.close(1000);
  }

  /** Drop the current socket and connect again at once (the "Reconnect now" button). */
  reconnectNow() {
    this.attempt = 0;
    clearTimeout(this.reconnectTimer);
    if (this.ws) this._drop(this.ws);
    else this._open();
  }

  _open() {
    clearTimeout(this.reconnectTimer);
    if (!this.enabled) return;
    const url = this.token ? `${this.url}?t=${this.token}` : this.url;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      console.error('websocket failed', err);
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.emit('connecting', { attempt: this.attempt, url });
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws && !this.connected) {
        this.connectTimeout = Math.min(this.connectTimeout + CONNECT_TIMEOUT_STEP, CONNECT_TIMEOUT_MAX);
        this._drop(ws);
      }
    }, this.connectTimeout);
    ws.onopen = () => {
      if (this.ws !== ws) return;
      clearTimeout(this.connectTimer);
      this.connected = true;
      this.everConnected = true;
      this.attempt = 0;
      this.connectTimeout = CONNECT_TIMEOUT;
      this.lastReceived = Date.now();
      this.aliveSent = false;
      this.emit('open');
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      this.lastReceived = Date.now();
      this.aliveSent = false;
      this._receive(ev.data);
    };
    ws.onclose = () => this._closed(ws);
    ws.onerror = () => {};
  }

  /** Close a socket that we consider dead and handle it as closed right away. */
  _drop(ws) {
    try {
      ws.close();
    } catch {
      // already closing
    }
    this._closed(ws);
  }

  _closed(ws) {
    if (this.ws !== ws) return;
    clearTimeout(this.connectTimer);
    clearTimeout(this.refreshTimer);
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    this.ws = null;
    const wasConnected = this.connected;
    this.connected = false;
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new Error('connection closed'));
    }
    this.pending.clear();
    this.emit('close', { wasConnected });
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    if (!this.enabled) return;
    const delay = Math.min(this.attempt * RECONNECT_STEP, RECONNECT_MAX);
    this.attempt += 1;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => this._open(), delay);
    this.emit('reconnecting', { delay, attempt: this.attempt });
  }

  _beat() {
    if (!this.connected || !this.ws) return;
    const idle = Date.now() - this.lastReceived;
    if (idle > DEAD_AFTER) {
      this._drop(this.ws);
    } else if (idle > ALIVE_AFTER && !this.aliveSent) {
      this.aliveSent = true;
      this.send('Alive', { Type: 'Alive', Alive: Date.now() });
    }
  }

  _receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    const data = msg.Data;
    if (msg.Iid && this.pending.has(msg.Iid)) {
      const { resolve, timer } = this.pending.get(msg.Iid);
      this.pending.delete(msg.Iid);
      clearTimeout(timer);
      if (data && data.Type === 'Self') this._self(data);
      resolve(msg);
      return;
    }
    if (data && data.Type === 'Self') {
      this._self(data);
      return;
    }
    this.emit('message', msg);
  }

  _self(data) {
    const previous = this.self;
    this.self = data;
    if (data.Token) this.token = data.Token;
    clearTimeout(this.refreshTimer);
    const ttl = Number(data.Turn && data.Turn.ttl) || 0;
    if (ttl > 0) {
      this.refreshTimer = setTimeout(() => {
        this.request('Self', { Type: 'Self', Self: {} }).catch(() => {});
      }, ttl * 900);
    }
    this.emit('self', data, previous);
  }

  /** Send {Type, [Type]: payload}; queued while offline unless it only makes sense now. */
  send(type, payload, iid) {
    const doc = { Type: type, [type]: payload };
    if (iid) doc.Iid = iid;
    if (this.connected && this.ws) {
      this.ws.send(JSON.stringify(doc));
      this.emit('sent', doc);
      return true;
    }
    if (!NOT_QUEUED.has(type)) this.queue.push(doc);
    return false;
  }

  /** Send the queued documents (after the session is known again). */
  flush() {
    const queued = this.queue;
    this.queue = [];
    for (const doc of queued) {
      if (this.connected && this.ws) this.ws.send(JSON.stringify(doc));
      else this.queue.push(doc);
    }
  }

  /** Send with an Iid and resolve with the reply envelope carrying it. */
  request(type, payload, timeout = REQUEST_TIMEOUT) {
    return new Promise((resolve, reject) => {
      if (!this.connected) {
        reject(new Error('not connected'));
        return;
      }
      const iid = String(this.nextIid++);
      const timer = setTimeout(() => {
        this.pending.delete(iid);
        reject(new Error(`${type} request timed out`));
      }, timeout);
      this.pending.set(iid, { resolve, reject, timer });
      this.send(type, payload, iid);
    });
  }

  /** Test hook: close the socket as if the network dropped it. */
  closeSocket() {
    if (this.ws) this.ws.close();
  }
}
