// File sharing over token peer connections (web-client.md 1.11, 3.6): files we offer (shares) and
// files we fetch (downloads). Files never touch the server; the chat only carries a FileInfo card.

import { Emitter, randomHex } from './events.js';
import { CHUNK_SIZE, ChunkError, chunkCount, decodeChunk, encodeChunk } from './chunks.js';
import { createSink, GROUP } from './filestore.js';

const MAX_CONNECTIONS = 5;
const SCHEDULE_EVERY = 1000;
const REQUEST_TIMEOUT = 20000;
const MAX_CONNECTION_FAILURES = 3;
const MAX_BAD_CHUNKS = 3;
const PROGRESS_EVERY = 200;
export const XFER = 'xfer';

/** Bytes per second, smoothed. */
class Speedometer {
  constructor() {
    this.samples = [];
    this.rate = 0;
  }

  add(bytes) {
    const now = performance.now();
    this.samples.push([now, bytes]);
    while (this.samples.length > 2 && now - this.samples[0][0] > 3000) this.samples.shift();
    const span = (now - this.samples[0][0]) / 1000;
    const total = this.samples.slice(1).reduce((sum, [, b]) => sum + b, 0);
    this.rate = span > 0.2 ? total / span : this.rate;
  }

  reset() {
    this.samples = [];
    this.rate = 0;
  }
}

/** A valid FileInfo from a chat message, or null. */
export function parseFileInfo(info) {
  if (!info || typeof info !== 'object') return null;
  const id = typeof info.id === 'string' ? info.id : '';
  const size = Number(info.size);
  const chunks = Number(info.chunks);
  if (!id || !Number.isSafeInteger(size) || size < 0 || !Number.isSafeInteger(chunks) || chunks < 0) return null;
  if ((size === 0) !== (chunks === 0) || chunks > size) return null;
  const name = typeof info.name === 'string' && info.name.trim() ? info.name.slice(0, 255) : 'file';
  const type = typeof info.type === 'string' ? info.type.slice(0, 255) : '';
  return { id, chunks, size, name, type };
}

/** A file we offer. Each downloader connection is a transfer. */
class Share {
  constructor(file, token, chunkSize) {
    this.file = file;
    this.token = token;
    this.chunkSize = chunkSize;
    this.info = { id: token, chunks: chunkCount(file.size, chunkSize), size: file.size, name: file.name || 'file', type: file.type || '' };
    this.unshared = false;
    this.transfers = new Map(); // connection key -> {peerId, peer, sent:Set, bytes, done}
    this.completed = []; // peer ids that fetched every chunk
    this.speed = new Speedometer();
  }

  get active() {
    return [...this.transfers.values()].filter((x) => !x.closed);
  }
}

/** A file we fetch from its owner. state: idle, connecting, running, saving, done, error, cancelled. */
class Download extends Emitter {
  constructor(files, owner, info) {
    super();
    this.files = files;
    this.owner = owner;
    this.info = info;
    this.token = info.id;
    this.state = 'idle';
    this.error = '';
    this.reset();
  }

  reset() {
    this.received = new Uint8Array(this.info.chunks);
    this.count = 0;
    this.bytes = 0;
    this.chunkSize = 0;
    this.jobs = [];
    for (let start = 0; start < this.info.chunks; start += GROUP) {
      this.jobs.push({ start, end: Math.min(start + GROUP, this.info.chunks) - 1, next: start });
    }
    this.conns = new Set();
    this.failures = 0;
    this.badChunks = 0;
    this.speed = new Speedometer();
    this.sink = null;
    this.blob = null;
    this.url = '';
    this.everOpened = false;
    clearInterval(this.scheduler);
    this.scheduler = 0;
  }

  get progress() {
    return this.info.chunks ? this.count / this.info.chunks : (this.state === 'done' ? 1 : 0);
  }

  get eta() {
    const rate = this.speed.rate;
    return rate > 0 ? (this.info.size - this.bytes) / rate : Infinity;
  }

  _changed(force = false) {
    this.files._changed('download', this.token, force);
  }

  async start() {
    if (this.state === 'connecting' || this.state === 'running' || this.state === 'saving') return;
    this.reset();
    this.state = 'connecting';
    this.error = '';
    this._changed(true);
    if (this.info.chunks === 0) {
      this.blob = new Blob([], { type: this.info.type || 'application/octet-stream' });
      this._done();
      return;
    }
    try {
      this.sink = await createSink(this.token, this.info.chunks, { memory: this.files.memoryOnly });
    } catch (err) {
      this._fail('storage', err);
      return;
    }
    if (this.state !== 'connecting') {
      this.sink.abort();
      return;
    }
    this._open();
    this.scheduler = setInterval(() => this._schedule(), SCHEDULE_EVERY);
  }

  /** One more connection while work is left (the original's rule: 3 soon, a 4th from 100 chunks, a 5th from 200). */
  _schedule() {
    if (this.state !== 'running' || !this.chunkSize) return;
    const open = this.conns.size;
    if (!this.jobs.length || open >= MAX_CONNECTIONS) return;
    if (this.info.chunks / 100 >= open - 2) this._open();
  }

  _open() {
    const peer = this.files.tokens.connect(this.owner, this.token, XFER);
    const conn = { peer, job: null, waiting: -1, timer: 0, bye: '' };
    this.conns.add(conn);
    peer.on('open', () => {
      this.everOpened = true;
      if (this.state === 'connecting') {
        this.state = 'running';
        this._changed(true);
      }
      this._pump(conn);
    });
    peer.on('binary', (buf) => this._chunk(conn, buf));
    peer.on('message', (msg) => {
      if (msg && msg.m === 'bye') {
        conn.bye = typeof msg.r === 'string' ? msg.r : 'bye';
        peer.close('bye');
      }
    });
    peer.on('close', (reason) => this._closed(conn, reason));
  }

  _takeJob() {
    return this.jobs.shift() || null;
  }

  _pump(conn) {
    if (this.state !== 'running' || conn.peer.closed) return;
    while (conn.job && conn.job.next > conn.job.end) conn.job = null;
    if (!conn.job) conn.job = this._takeJob();
    if (!conn.job) {
      clearTimeout(conn.timer);
      return; // nothing left for this connection; others may still be working
    }
    this._request(conn, conn.job.next);
  }

  _request(conn, index) {
    conn.waiting = index;
    clearTimeout(conn.timer);
    conn.timer = setTimeout(() => conn.peer.close('stalled'), REQUEST_TIMEOUT);
    if (!conn.peer.send({ m: 'r', i: index })) conn.peer.close('send-failed');
  }

  _chunk(conn, buffer) {
    if (this.state !== 'running' || conn.waiting < 0) return;
    let chunk;
    try {
      chunk = decodeChunk(buffer);
    } catch (err) {
      if (err instanceof ChunkError && ++this.badChunks <= MAX_BAD_CHUNKS && conn.waiting >= 0) {
        this._request(conn, conn.waiting); // ask once more for a damaged chunk
        return;
      }
      this._fail('corrupt', err);
      return;
    }
    const { index, payload } = chunk;
    if (index !== conn.waiting) {
      this._fail('corrupt', new Error(`asked for chunk ${conn.waiting}, got ${index}`));
      return;
    }
    clearTimeout(conn.timer);
    conn.waiting = -1;
    const { chunks, size } = this.info;
    if (!this.chunkSize) {
      // the receiver places chunk i at i * (length of the first chunk), which is chunk 0
      if (index !== 0 || !payload.length) {
        this._fail('corrupt', new Error('first chunk missing'));
        return;
      }
      this.chunkSize = payload.length;
      if (chunks > 1 && this.chunkSize * (chunks - 1) >= size) {
        this._fail('corrupt', new Error('chunk size does not match the file size'));
        return;
      }
    }
    const expected = index < chunks - 1 ? this.chunkSize : size - (chunks - 1) * this.chunkSize;
    if (payload.length !== expected) {
      this._fail('corrupt', new Error(`chunk ${index} has ${payload.length} bytes, expected ${expected}`));
      return;
    }
    if (!this.received[index]) {
      this.received[index] = 1;
      this.count += 1;
      this.bytes += payload.length;
      this.speed.add(payload.length);
      this.sink.write(index, index * this.chunkSize, payload).catch((err) => this._fail('storage', err));
    }
    conn.job.next = index + 1;
    this._changed();
    if (this.count === chunks) {
      this._finish();
      return;
    }
    this._pump(conn);
  }

  _closed(conn, reason) {
    clearTimeout(conn.timer);
    this.conns.delete(conn);
    if (this.state !== 'running' && this.state !== 'connecting') return;
    if (conn.job && conn.job.next <= conn.job.end) this.jobs.unshift(conn.job);
    conn.job = null;
    if (conn.bye === 'unshared') {
      this._fail('unshared');
      return;
    }
    if (conn.bye) {
      this._fail('stopped');
      return;
    }
    if (this.conns.size) return; // the others carry on, and the scheduler adds connections again
    this.failures += 1;
    if (!this.everOpened) {
      this._fail(reason === 'timeout' ? 'unavailable' : 'connection');
    } else if (this.failures > MAX_CONNECTION_FAILURES) {
      this._fail('connection');
    } else {
      this._open();
    }
  }

  _closeAll(message) {
    clearInterval(this.scheduler);
    for (const conn of [...this.conns]) {
      clearTimeout(conn.timer);
      if (message) conn.peer.send(message);
      const peer = conn.peer;
      // let the bye leave before the channel closes
      setTimeout(() => peer.close('local'), 100);
    }
    this.conns.clear();
  }

  async _finish() {
    this.state = 'saving';
    this._closeAll({ m: 'bye' });
    this._changed(true);
    try {
      this.blob = await this.sink.finish(this.info.type);
    } catch (err) {
      this._fail('storage', err);
      return;
    }
    this._done();
  }

  _done() {
    this.state = 'done';
    this.url = URL.createObjectURL(this.blob);
    this._changed(true);
    this.files.emit('downloaded', this);
  }

  /** The user cancels; the owner's connections get a bye. */
  cancel() {
    if (!['connecting', 'running', 'saving'].includes(this.state)) return;
    this.state = 'cancelled';
    this._closeAll({ m: 'bye' });
    if (this.sink) this.sink.abort();
    this._changed(true);
  }

  _fail(kind, err) {
    if (this.state === 'error' || this.state === 'cancelled' || this.state === 'done') return;
    if (err) console.warn(`download of ${this.info.name} failed (${kind})`, err);
    this.state = 'error';
    this.error = kind;
    this._closeAll({ m: 'bye' });
    if (this.sink) this.sink.abort();
    this._changed(true);
  }

  /** Give the finished file to the user (the browser's download). */
  save() {
    if (!this.url) return;
    const a = document.createElement('a');
    a.href = this.url;
    a.download = this.info.name;
    a.rel = 'noopener';
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
  }

  discard() {
    if (this.url) URL.revokeObjectURL(this.url);
    this.url = '';
    this.blob = null;
    if (this.sink) this.sink.remove();
  }
}

export class Files extends Emitter {
  /** tokens: TokenConnections; ownId(): own session id. */
  constructor({ tokens, ownId }) {
    super();
    this.tokens = tokens;
    this.ownId = ownId;
    this.shares = new Map();
    this.downloads = new Map();
    this.delay = 0; // test hook: pause before each chunk the uploader sends
    this.memoryOnly = false;
    this.lastEmit = new Map();
    this.emitTimers = new Map();
  }

  /** Coalesced change events for the UI ("share"/"download", token). */
  _changed(kind, token, force = false) {
    const key = `${kind}:${token}`;
    const now = performance.now();
    const last = this.lastEmit.get(key) || 0;
    if (force || now - last >= PROGRESS_EVERY) {
      clearTimeout(this.emitTimers.get(key));
      this.emitTimers.delete(key);
      this.lastEmit.set(key, now);
      this.emit(kind, token);
    } else if (!this.emitTimers.has(key)) {
      this.emitTimers.set(key, setTimeout(() => {
        this.emitTimers.delete(key);
        this.lastEmit.set(key, performance.now());
        this.emit(kind, token);
      }, PROGRESS_EVERY - (now - last)));
    }
  }

  // ------------------------------------------------------------ sharing

  /** Offer a file; returns its FileInfo for the chat. */
  share(file) {
    const token = randomHex(48);
    const share = new Share(file, token, CHUNK_SIZE);
    this.shares.set(token, share);
    this.tokens.publish(token, XFER, (peer) => this._serve(share, peer));
    this._changed('share', token, true);
    return { ...share.info };
  }

  _serve(share, peer) {
    if (share.unshared) {
      // tell the downloader at once instead of letting it wait for a timeout
      peer.on('open', () => {
        peer.send({ m: 'bye', r: 'unshared' });
        setTimeout(() => peer.close('unshared'), 200);
      });
      return true;
    }
    const transfer = { peerId: peer.peerId, peer, sent: new Set(), bytes: 0, closed: false, serving: Promise.resolve() };
    share.transfers.set(peer.key, transfer);
    peer.on('message', (msg) => {
      if (msg && msg.m === 'r' && Number.isInteger(msg.i) && msg.i >= 0 && msg.i < share.info.chunks) {
        transfer.serving = transfer.serving.then(() => this._sendChunk(share, transfer, msg.i)).catch((err) => {
          // the file cannot be read any more (moved, deleted): end this transfer
          console.warn(`cannot send ${share.info.name}`, err);
          peer.close('read-failed');
        });
      } else if (msg && msg.m === 'bye') {
        peer.close('bye');
      } else {
        peer.close('invalid');
      }
    });
    peer.on('close', () => {
      transfer.closed = true;
      if (transfer.sent.size === share.info.chunks && !share.completed.includes(transfer.peerId)) share.completed.push(transfer.peerId);
      share.transfers.delete(peer.key);
      this._changed('share', share.token, true);
    });
    this._changed('share', share.token, true);
    return true;
  }

  async _sendChunk(share, transfer, index) {
    if (transfer.closed || share.unshared) return;
    if (this.delay) await new Promise((r) => setTimeout(r, this.delay));
    const file = share.file;
    if (transfer.closed || !file) return; // stopped or unshared meanwhile
    const start = index * share.chunkSize;
    const data = await file.slice(start, Math.min(share.info.size, start + share.chunkSize)).arrayBuffer();
    if (transfer.closed) return;
    if (!transfer.peer.sendBinary(encodeChunk(index, data))) {
      transfer.peer.close('send-failed');
      return;
    }
    transfer.sent.add(index);
    transfer.bytes += data.byteLength;
    share.speed.add(data.byteLength);
    this._changed('share', share.token);
  }

  /** Stop the running transfers of a file (it stays shared). */
  stopSending(token) {
    const share = this.shares.get(token);
    if (!share) return;
    for (const transfer of share.transfers.values()) {
      transfer.peer.send({ m: 'bye', r: 'stopped' });
      transfer.closed = true;
      const peer = transfer.peer;
      setTimeout(() => peer.close('stopped'), 100);
    }
    share.transfers.clear();
    share.speed.reset();
    this._changed('share', token, true);
  }

  /** Stop offering a file: running transfers end, later requests are told it is gone. */
  unshare(token) {
    const share = this.shares.get(token);
    if (!share || share.unshared) return;
    this.stopSending(token);
    share.unshared = true;
    share.file = null;
    this._changed('share', token, true);
  }

  shareOf(token) {
    return this.shares.get(token) || null;
  }

  // ------------------------------------------------------------ downloading

  downloadOf(token) {
    return this.downloads.get(token) || null;
  }

  /** Start (or restart) fetching a file from its owner. */
  download(owner, info) {
    let d = this.downloads.get(info.id);
    if (!d) {
      d = new Download(this, owner, info);
      this.downloads.set(info.id, d);
    } else if (d.state === 'done') {
      return d;
    }
    d.start();
    return d;
  }

  cancel(token) {
    const d = this.downloads.get(token);
    if (d) d.cancel();
  }

  /** A peer left for good: its shares can no longer be fetched, running downloads fail. */
  peerGone(peerId) {
    for (const d of this.downloads.values()) {
      if (d.owner === peerId && (d.state === 'connecting' || d.state === 'running')) d._fail('connection');
    }
  }
}
