// Token peer connections (web-client.md 3.4): peer connections outside of calls, named by a token
// that the owner published (a shared file, a screen share). The side that wants something (the
// downloader, the screen viewer) makes the offer with `_token` and a numeric `_id`; the owner
// answers only for tokens it published. Signalling goes through the server like call signalling.

import { Emitter } from './events.js';
import { PeerConnection } from './peercall.js';

const CONNECT_TIMEOUT = 15000;

/** One token connection: a PeerConnection plus the token, the kind and the peer. */
export class TokenPeer extends Emitter {
  constructor({ peerId, token, id, kind, initiator, iceServers, send }) {
    super();
    this.peerId = peerId;
    this.token = token;
    this.id = id;
    this.kind = kind;
    this.initiator = initiator;
    this.key = tokenKey(peerId, id, token);
    this.closed = false;
    this.pc = new PeerConnection({
      peerId,
      initiator,
      iceServers,
      signal: (type, payload) => send(type, peerId, { ...payload, _token: token, _id: id }),
    });
    this.pc.on('state', (state) => {
      this.emit('state', state);
      if (state === 'failed' || state === 'closed') this.close(state);
    });
    this.pc.on('channel', (state) => {
      if (state === 'open') {
        clearTimeout(this.timer);
        this.emit('open');
      } else if (state === 'closed') {
        this.close('channel-closed');
      }
    });
    this.pc.on('message', (msg) => this.emit('message', msg));
    this.pc.on('binary', (buf) => this.emit('binary', buf));
    this.pc.on('tracks', () => this.emit('tracks', this.pc.remoteStream));
    // a connection that never opens its data channel is given up
    this.timer = setTimeout(() => {
      if (!this.pc.channelOpen) this.close('timeout');
    }, CONNECT_TIMEOUT);
  }

  get open() {
    return !this.closed && this.pc.channelOpen;
  }

  get stream() {
    return this.pc.remoteStream;
  }

  send(obj) {
    return this.pc.send(obj);
  }

  sendBinary(buf) {
    return this.pc.sendBinary(buf);
  }

  /** Close once; `reason` tells listeners why (bye, timeout, failed, closed, channel-closed, local). */
  close(reason = 'local') {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.pc.close();
    this.emit('close', reason);
  }
}

function tokenKey(peerId, id, token) {
  return `${peerId}\u0000${id}\u0000${token}`;
}

export class TokenConnections extends Emitter {
  /** channel: Channel; iceServers(): current list. */
  constructor({ channel, iceServers }) {
    super();
    this.channel = channel;
    this.iceServers = iceServers;
    this.published = new Map(); // token -> {kind, accept(peer) | null}
    this.peers = new Map(); // key -> TokenPeer
    this.counters = Object.create(null); // kind -> last _id
  }

  /**
   * Offer a token. accept(peer, offer) is called for every incoming connection; it may attach media
   * before the answer goes out (it can return a promise) or return false to refuse.
   */
  publish(token, kind, accept) {
    this.published.set(token, { kind, accept });
  }

  unpublish(token) {
    this.published.delete(token);
    for (const peer of [...this.peers.values()]) {
      if (peer.token === token && !peer.initiator) peer.close('unpublished');
    }
  }

  isPublished(token) {
    return this.published.has(token);
  }

  _send(type, to, payload) {
    this.channel.send(type, { To: to, Type: type, [type]: payload });
  }

  _track(peer) {
    this.peers.set(peer.key, peer);
    peer.on('close', () => {
      if (this.peers.get(peer.key) === peer) this.peers.delete(peer.key);
    });
    return peer;
  }

  /** Open a connection to the owner of a token (we offer). media: {video, audio} to receive. */
  connect(peerId, token, kind, { receive = null } = {}) {
    this.counters[kind] = (this.counters[kind] || 0) + 1;
    const peer = this._track(new TokenPeer({
      peerId, token, id: this.counters[kind], kind, initiator: true, iceServers: this.iceServers(), send: (...a) => this._send(...a),
    }));
    if (receive) {
      for (const k of ['video', 'audio']) if (receive[k]) peer.pc.pc.addTransceiver(k, { direction: 'recvonly' });
    }
    peer.pc.offer().catch((err) => {
      console.warn('token offer failed', err);
      peer.close('failed');
    });
    return peer;
  }

  /** All our connections for a token. */
  connections(token) {
    return [...this.peers.values()].filter((p) => p.token === token);
  }

  // ------------------------------------------------------------ incoming signalling

  /** An Offer; true when it was a token offer (handled or ignored here), false for calls. */
  offer(from, data) {
    const offer = data && data.Offer;
    if (!offer || typeof offer !== 'object' || offer._token === undefined) return false;
    const token = String(offer._token);
    const id = offer._id;
    const entry = this.published.get(token);
    if (!entry) {
      this.emit('unknown', { from, token });
      return true; // only tokens we published are answered
    }
    const key = tokenKey(from, id, token);
    const existing = this.peers.get(key);
    if (existing) {
      // a renegotiation of a live connection
      existing.pc.acceptOffer(offer).then(() => existing.pc.answer()).catch((err) => console.warn('token renegotiation failed', err));
      return true;
    }
    const peer = this._track(new TokenPeer({
      peerId: from, token, id, kind: entry.kind, initiator: false, iceServers: this.iceServers(), send: (...a) => this._send(...a),
    }));
    (async () => {
      await peer.pc.acceptOffer(offer);
      const ok = entry.accept ? await entry.accept(peer, offer) : true;
      if (ok === false || peer.closed) {
        peer.close('refused');
        return;
      }
      await peer.pc.answer();
    })().catch((err) => {
      console.warn('token answer failed', err);
      peer.close('failed');
    });
    return true;
  }

  answer(from, data) {
    const ans = data && data.Answer;
    if (!ans || typeof ans !== 'object' || ans._token === undefined) return false;
    const peer = this.peers.get(tokenKey(from, ans._id, String(ans._token)));
    if (peer && peer.initiator) {
      peer.pc.acceptAnswer(ans).catch((err) => {
        console.warn('token answer not applied', err);
        peer.close('failed');
      });
    }
    return true;
  }

  candidate(from, data) {
    const c = data && data.Candidate;
    if (!c || typeof c !== 'object' || c._token === undefined) return false;
    const peer = this.peers.get(tokenKey(from, c._id, String(c._token)));
    if (peer) peer.pc.addCandidate(c);
    return true;
  }

  /** Close everything with one peer (it left), or of one kind. */
  closePeer(peerId, kind = null) {
    for (const peer of [...this.peers.values()]) {
      if (peer.peerId === peerId && (!kind || peer.kind === kind)) peer.close('peer-left');
    }
  }

  closeAll() {
    for (const peer of [...this.peers.values()]) peer.close('local');
  }
}
