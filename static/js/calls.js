// Calls: the per-peer call state machine (ringing, accept, reject, busy, timeouts, abort, hang-up),
// ad-hoc and server-managed conferences with the mesh rule, and the data-channel traffic of calls
// (web-client.md 1.5-1.8, 3.2, 3.3, 3.5).

import { Emitter, randomHex } from './events.js';
import { PeerConnection } from './peercall.js';

export const PICKUP_TIMEOUT = 30000;
export const RINGER_TIMEOUT = 35000;
const RING_EVERY = 4000;

/**
 * A call record. state: 'media' (waiting for our camera/microphone), 'calling' (our offer is out),
 * 'ringing' (their offer waits for us), 'accepting', 'connecting', 'connected'.
 */
class Call {
  constructor(peerId, outgoing, { auto = false, conference = '' } = {}) {
    this.peerId = peerId;
    this.outgoing = outgoing;
    this.auto = auto;
    this.conference = conference;
    this.state = outgoing ? 'media' : 'ringing';
    this.pc = null;
    this.queue = []; // signalling that arrived before the peer connection exists
    this.timer = 0;
    this.everConnected = false;
    this.disconnected = false;
    this.talking = false;
    this.started = Date.now();
  }
}

export class Calls extends Emitter {
  /**
   * channel: Channel; media: Media; rooms: Rooms; sounds: Sounds;
   * iceServers(): current ICE server list; ownId(): own session id.
   */
  constructor({ channel, media, rooms, sounds, iceServers, ownId }) {
    super();
    this.channel = channel;
    this.media = media;
    this.rooms = rooms;
    this.sounds = sounds;
    this.iceServers = iceServers;
    this.ownId = ownId;
    this.calls = new Map();
    this.conferenceId = '';
    this.conferenceCounter = 0;
    this.pickupTimeout = PICKUP_TIMEOUT;
    this.ringerTimeout = RINGER_TIMEOUT;
    this.sentConference = '';
    this.sfu = null; // the SFU client (sfu.js) sets itself here
    this.lastConference = null;
    media.on('track', (kind, track) => {
      if (kind === 'video' && media.videoMuted) return;
      for (const call of this.calls.values()) if (call.pc) call.pc.replaceTrack(kind, track);
    });
    media.on('mute', (kind, muted) => {
      if (kind !== 'video') return;
      const track = muted ? null : media.track('video');
      for (const call of this.calls.values()) if (call.pc) call.pc.replaceTrack('video', track);
    });
    media.on('talking', (talking) => this.broadcastChannel({ Type: 'Talking', Talking: talking }));
    // camera/microphone became available during a call (after "Try again"): send it, renegotiating
    media.on('stream', (stream) => {
      for (const call of this.calls.values()) {
        const pc = call.pc;
        if (!pc || call.state !== 'connected') continue;
        const missing = stream.getTracks().some((tr) => !pc.senders[tr.kind]);
        if (!missing) continue;
        pc.addLocal(stream, { videoMuted: media.videoMuted });
        pc.offer(call.conference ? { _conference: call.conference } : {}).catch((err) => console.warn('renegotiation failed', err));
      }
    });
  }

  // ------------------------------------------------------------ queries

  get size() {
    return this.calls.size;
  }

  get(peerId) {
    return this.calls.get(peerId) || null;
  }

  list() {
    return [...this.calls.values()];
  }

  connectedIds() {
    return this.list().filter((c) => c.state === 'connected').map((c) => c.peerId);
  }

  /**
   * What the stage shows: mesh calls and peers received through the SFU, one per peer (see pick).
   */
  shown() {
    const extra = this.sfu ? this.sfu.list() : [];
    if (!extra.length) return this.list();
    const out = new Map(extra.map((r) => [r.peerId, r]));
    for (const call of this.calls.values()) out.set(call.peerId, this.pick(call, out.get(call.peerId)));
    return [...out.values()];
  }

  /**
   * Of a peer's mesh call and SFU view (either may be missing), the one shown. While a room switches
   * a peer has both for a moment: the side the room moves to wins as soon as its pictures flow (the
   * other one still plays until then, so the tile never waits for a link to be dropped); a mesh call
   * still connecting never hides the SFU view.
   */
  pick(mesh, rec) {
    if (!mesh || !rec) return mesh || rec;
    const sfuWins = mesh.state !== 'connected' || (this.sfu.active && rec.state === 'connected');
    return sfuWins ? rec : mesh;
  }

  /** Whether this call (mesh or SFU) is the one shown for its peer: while a room switches, a
   * peer has both for a moment, and only the shown one may set its tile's picture. */
  isShown(call) {
    const rec = this.sfu ? this.sfu.records.get(call.peerId) : undefined;
    const shown = this.pick(this.calls.get(call.peerId), rec);
    return !shown || shown === call;
  }

  /** The summary the status line shows: {state, peers}. */
  summary() {
    const calls = this.shown();
    if (!calls.length) return { state: 'idle', peers: [] };
    const connected = calls.filter((c) => c.state === 'connected');
    const ringing = calls.filter((c) => c.state === 'ringing');
    if (ringing.length && !connected.length) return { state: 'ringing', peers: ringing.map((c) => c.peerId) };
    if (connected.length > 1 || (connected.length && this.rooms.isConference)) {
      return { state: 'conference', peers: connected.map((c) => c.peerId) };
    }
    if (connected.length === 1) return { state: 'connected', peers: connected.map((c) => c.peerId) };
    if (calls.some((c) => c.state === 'media' && !c.auto)) return { state: 'waitmedia', peers: calls.map((c) => c.peerId) };
    const out = calls.filter((c) => c.outgoing && !c.auto);
    if (out.length) return { state: 'calling', peers: out.map((c) => c.peerId) };
    return { state: 'connecting', peers: calls.map((c) => c.peerId) };
  }

  /** Private chat and Talking go over the call's data channel when it is open. */
  channelOpen(peerId) {
    const call = this.calls.get(peerId);
    return !!(call && call.pc && call.pc.channelOpen);
  }

  sendChannel(peerId, obj) {
    const call = this.calls.get(peerId);
    return !!(call && call.pc && call.pc.send(obj));
  }

  broadcastChannel(obj) {
    for (const call of this.calls.values()) if (call.pc) call.pc.send(obj);
  }

  _changed(call) {
    this.emit('change', call);
  }

  // ------------------------------------------------------------ signalling out

  _send(type, peerId, payload) {
    this.channel.send(type, { To: peerId, Type: type, [type]: payload });
  }

  _bye(peerId, reason) {
    this._send('Bye', peerId, reason ? { Reason: reason } : {});
  }

  // ------------------------------------------------------------ outgoing

  /** The user starts a call (call button). */
  call(peerId) {
    if (!peerId || peerId === this.ownId() || this.calls.has(peerId)) return null;
    return this._outgoing(peerId, {});
  }

  _outgoing(peerId, { auto = false }) {
    const call = new Call(peerId, true, { auto, conference: auto ? this.conferenceId : (this.rooms.isConference ? this.conferenceId : '') });
    this.calls.set(peerId, call);
    this.emit('added', call);
    this._changed(call);
    this._dial(call);
    return call;
  }

  async _dial(call) {
    const stream = await this.media.ensure();
    if (this.calls.get(call.peerId) !== call) return; // hung up meanwhile
    try {
      this._createPeer(call, true);
      call.pc.addLocal(stream, { videoMuted: this.media.videoMuted });
      call.pc.receiveAll();
      call.state = 'calling';
      const extra = call.conference ? { _conference: call.conference } : {};
      await call.pc.offer(extra);
    } catch (err) {
      console.error('cannot start the call', err);
      this._end(call, { reason: 'error', send: true, notice: 'setup' });
      return;
    }
    if (!call.auto) this.sounds.loop('dial', RING_EVERY);
    call.timer = setTimeout(() => {
      if (call.state === 'connected' || call.everConnected) return;
      this._end(call, { reason: 'ringertimeout', send: true, notice: 'nopickup' });
    }, this.ringerTimeout);
    this._changed(call);
  }

  _createPeer(call, initiator) {
    const pc = new PeerConnection({
      peerId: call.peerId,
      initiator,
      iceServers: this.iceServers(),
      signal: (type, payload) => this._send(type, call.peerId, payload),
    });
    call.pc = pc;
    pc.on('state', (state) => this._peerState(call, state));
    pc.on('tracks', () => this.emit('tracks', call));
    pc.on('channel', (state) => {
      if (state === 'open' && this.media.talking) pc.send({ Type: 'Talking', Talking: true });
      this.emit('channel', call, state);
    });
    pc.on('message', (msg) => this._channelMessage(call, msg));
    return pc;
  }

  // ------------------------------------------------------------ incoming signalling

  offer(from, data) {
    const offer = data && data.Offer;
    if (!offer || typeof offer !== 'object' || offer._token !== undefined) return; // token connections: not ours
    const conference = offer._conference || '';
    const existing = this.calls.get(from);
    if (existing) {
      if (existing.disconnected || existing.state === 'ringing') {
        // the peer starts over (e.g. after a network change): replace the old call
        this._end(existing, { silent: true });
      } else if (existing.outgoing && existing.pc && existing.pc.pc.signalingState === 'have-local-offer') {
        // both called at once: the smaller id's offer wins
        if (this.ownId() < from) return;
        existing.pc.close();
        existing.pc = null;
        existing.outgoing = false;
        existing.queue = [{ type: 'offer', payload: offer }];
        this._answerCall(existing);
        return;
      } else if (existing.pc && existing.pc.pc.remoteDescription) {
        this._renegotiate(existing, offer);
        return;
      } else {
        existing.queue.push({ type: 'offer', payload: offer });
        return;
      }
    }
    if (conference) {
      if (!this.conferenceId && this.rooms.isConference) this.conferenceId = conference;
      if (conference === this.conferenceId) {
        const call = new Call(from, false, { auto: true, conference });
        call.queue.push({ type: 'offer', payload: offer });
        this.calls.set(from, call);
        this.emit('added', call);
        this._answerCall(call);
        return;
      }
      this._bye(from, 'busy');
      return;
    }
    if (this.calls.size > 0) {
      this._bye(from, 'busy');
      this.emit('notice', { kind: 'busy-incoming', peerId: from });
      return;
    }
    const call = new Call(from, false);
    call.queue.push({ type: 'offer', payload: offer });
    this.calls.set(from, call);
    this.emit('added', call);
    this.sounds.loop('ring', RING_EVERY);
    call.timer = setTimeout(() => {
      if (call.state !== 'ringing') return;
      this._end(call, { reason: 'pickuptimeout', send: true, notice: 'missed' });
    }, this.pickupTimeout);
    this.emit('incoming', call);
    this._changed(call);
  }

  async _renegotiate(call, offer) {
    try {
      await call.pc.acceptOffer(offer);
      await call.pc.answer();
    } catch (err) {
      console.warn('renegotiation failed', err);
    }
  }

  answer(from, data) {
    const call = this.calls.get(from);
    const ans = data && data.Answer;
    if (!call || !ans || ans._token !== undefined) return;
    if (!call.pc) {
      call.queue.push({ type: 'answer', payload: ans });
      return;
    }
    this.sounds.stopLoop('dial');
    if (call.state === 'calling') call.state = 'connecting';
    call.pc.acceptAnswer(ans).catch((err) => {
      console.error('cannot apply the answer', err);
      this._end(call, { reason: 'error', send: true, notice: 'setup' });
    });
    this._changed(call);
  }

  candidate(from, data) {
    const call = this.calls.get(from);
    const c = data && data.Candidate;
    if (!call || !c || c._token !== undefined) return;
    if (call.pc && (call.pc.pc.remoteDescription || !call.queue.length)) call.pc.addCandidate(c);
    else call.queue.push({ type: 'candidate', payload: c });
  }

  bye(from, data) {
    const call = this.calls.get(from);
    if (!call) return;
    const reason = data && data.Bye && typeof data.Bye === 'object' ? data.Bye.Reason || '' : '';
    this._end(call, { reason, send: false, remote: true, silent: reason === 'sfu' });
  }

  // ------------------------------------------------------------ user actions

  accept(peerId) {
    const call = this.calls.get(peerId);
    if (!call || call.state !== 'ringing') return;
    this._answerCall(call);
  }

  reject(peerId) {
    const call = this.calls.get(peerId);
    if (!call || call.state !== 'ringing') return;
    this._end(call, { reason: 'reject', send: true, notice: 'rejected-by-me' });
  }

  /** Hang up one call, or all of them. */
  hangup(peerId) {
    const targets = peerId ? [this.calls.get(peerId)].filter(Boolean) : this.list();
    for (const call of targets) {
      let reason = '';
      if (call.state === 'ringing') reason = 'reject';
      else if (!call.everConnected && call.outgoing) reason = 'abort';
      this._end(call, { reason, send: true, notice: 'hungup-by-me' });
    }
  }

  /** The page goes away: tell every peer. */
  unload() {
    for (const call of this.list()) {
      this._bye(call.peerId, 'unload');
      this._end(call, { silent: true });
    }
  }

  async _answerCall(call) {
    this.sounds.stopLoop('ring');
    clearTimeout(call.timer);
    call.state = 'accepting';
    this._changed(call);
    const stream = await this.media.ensure();
    if (this.calls.get(call.peerId) !== call) return;
    try {
      this._createPeer(call, false);
      const queue = call.queue;
      call.queue = [];
      const offer = queue.find((m) => m.type === 'offer');
      if (!offer) throw new Error('no offer');
      await call.pc.acceptOffer(offer.payload);
      call.pc.addLocal(stream, { videoMuted: this.media.videoMuted });
      await call.pc.answer();
      for (const m of queue) if (m.type === 'candidate') await call.pc.addCandidate(m.payload);
      if (call.state === 'accepting') call.state = 'connecting';
    } catch (err) {
      console.error('cannot answer the call', err);
      this._end(call, { reason: 'error', send: true, notice: 'setup' });
      return;
    }
    call.timer = setTimeout(() => {
      if (!call.everConnected && this.calls.get(call.peerId) === call) {
        this._end(call, { reason: 'failed', send: true, notice: 'failed' });
      }
    }, this.ringerTimeout);
    this._changed(call);
  }

  // ------------------------------------------------------------ connection state

  _peerState(call, state) {
    if (this.calls.get(call.peerId) !== call) return;
    if (state === 'connected') {
      call.disconnected = false;
      if (call.state !== 'connected') {
        call.state = 'connected';
        clearTimeout(call.timer);
        this.sounds.stopLoop('dial');
        if (!call.everConnected) {
          call.everConnected = true;
          if (!call.auto || this.connectedIds().length === 1) this.sounds.play('connect');
          this.emit('connected', call);
        }
        this._changed(call);
        this._announceConference();
      }
    } else if (state === 'disconnected') {
      call.disconnected = true;
      this._changed(call);
    } else if (state === 'failed') {
      this._end(call, { reason: 'failed', send: true, notice: 'failed' });
    }
  }

  // ------------------------------------------------------------ conferences

  /** In a normal room: tell everyone in the call who is in it, when there is more than one peer. */
  _announceConference() {
    if (this.rooms.isConference) return;
    const ids = this.connectedIds();
    if (ids.length < 2) return;
    if (!this.conferenceId) {
      this.conferenceCounter += 1;
      this.conferenceId = `${this.ownId()}_${this.conferenceCounter}_${randomHex(8)}`;
    }
    this.sendConference(ids);
  }

  sendConference(ids = this.list().map((c) => c.peerId)) {
    if (!this.conferenceId || this.rooms.isConference) return;
    const list = [...ids, this.ownId()];
    this.channel.send('Conference', { Id: this.conferenceId, Type: 'Conference', Conference: list });
  }

  /** A Conference document: from a call partner (ad hoc) or from the server (Conference rooms). */
  conference(envelope, data) {
    this.lastConference = [envelope, data];
    const ids = Array.isArray(data.Conference) ? data.Conference.filter((x) => typeof x === 'string') : [];
    const id = typeof data.Id === 'string' ? data.Id : '';
    const from = envelope.From || '';
    const inRoom = this.rooms.isConference;
    if (!id) return;
    const calls = this.list();
    if (!calls.length && !inRoom) return;
    if (calls.length === 1 && !inRoom) {
      const only = calls[0].peerId;
      if (from !== only || !ids.includes(only)) return;
      this.conferenceId = id;
    } else if (calls.length === 1 && inRoom) {
      this.conferenceId = id;
    } else {
      if (this.conferenceId && this.conferenceId !== id) return;
      if (!this.conferenceId) {
        if (!inRoom) return;
        this.conferenceId = id;
      }
    }
    const own = this.ownId();
    const viaSfu = this.sfu && this.sfu.active; // the SFU carries everyone: no new mesh links
    for (const peerId of ids) {
      if (!viaSfu && peerId !== own && own < peerId && !this.calls.has(peerId)) this._outgoing(peerId, { auto: true });
    }
    this._changed(null);
  }

  /** The room went from SFU back to mesh: dial as the last Conference document says. */
  redial() {
    if (this.lastConference && this.rooms.isConference) this.conference(...this.lastConference);
  }

  /** Replace a mesh link that the SFU now carries: a quiet Bye, no notice on either side. */
  drop(peerId, reason) {
    const call = this.calls.get(peerId);
    if (call) this._end(call, { reason, send: true, silent: true });
  }

  // ------------------------------------------------------------ data channel

  _channelMessage(call, msg) {
    switch (msg.Type) {
      case 'Talking':
        call.talking = !!msg.Talking;
        this.emit('talking', call);
        break;
      case 'Chat':
        this.emit('chat', call.peerId, msg);
        break;
      default:
        this.emit('channel-message', call.peerId, msg);
    }
  }

  // ------------------------------------------------------------ ending

  /**
   * End a call. reason: the Bye reason (sent when send is true, or received when remote is true);
   * notice: what the UI should tell the user; silent: no message, no sound.
   */
  _end(call, { reason = '', send = false, remote = false, notice = '', silent = false } = {}) {
    if (this.calls.get(call.peerId) !== call) return;
    this.calls.delete(call.peerId);
    clearTimeout(call.timer);
    const wasConnected = call.everConnected;
    if (send) this._bye(call.peerId, reason);
    if (call.pc) call.pc.close();
    if (!this.calls.size || !this.list().some((c) => c.state === 'ringing')) this.sounds.stopLoop('ring');
    if (!this.list().some((c) => c.outgoing && !c.everConnected && !c.auto)) this.sounds.stopLoop('dial');
    this.emit('removed', call);
    if (!silent) {
      this.emit('ended', { call, reason, remote, notice, wasConnected });
    }
    if (this.calls.size <= 1 && !this.rooms.isConference) this.conferenceId = '';
    if (!this.calls.size) {
      if (wasConnected && !silent) this.sounds.play('end');
      if (!this.rooms.isConference) this.media.stop();
      this.conferenceId = this.rooms.isConference ? this.conferenceId : '';
    }
    this._changed(null);
  }

  /** Leaving a Conference room (or switching rooms from one) ends every call and the camera. */
  endAll(reason = '') {
    if (this.sfu) this.sfu.leave();
    for (const call of this.list()) this._end(call, { reason, send: true, silent: true });
    this.conferenceId = '';
    this.media.stop();
  }

  /** After a reconnect and a new Welcome to the same room: restore a mesh that lost peers. */
  reconnected() {
    const disconnected = this.list().filter((c) => c.disconnected);
    if (disconnected.length > 1 && this.conferenceId) this.sendConference();
  }

  async stats(peerId) {
    const call = this.calls.get(peerId);
    if (!call || !call.pc) return null;
    return call.pc.stats();
  }
}
