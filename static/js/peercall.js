// One RTCPeerConnection to one peer: local tracks, remote tracks, ICE candidates and the
// "default" data channel (web-client.md 3.2, 3.5). Signalling goes out through `signal`.

import { Emitter } from './events.js';

export class PeerConnection extends Emitter {
  /**
   * peerId: the remote session; initiator: we create the offer and the data channel;
   * iceServers: from Self; signal(type, payload): sends Offer/Answer/Candidate to the peer.
   */
  constructor({ peerId, initiator, iceServers, signal }) {
    super();
    this.peerId = peerId;
    this.initiator = initiator;
    this.signal = signal;
    this.remoteStream = new MediaStream();
    this.pendingCandidates = [];
    this.senders = { audio: null, video: null };
    this.dc = null;
    this.closed = false;
    this.pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    this.pc.onicecandidate = (ev) => {
      const c = ev.candidate;
      if (!c || !c.candidate) return;
      this.signal('Candidate', {
        type: 'candidate', sdpMLineIndex: c.sdpMLineIndex, sdpMid: c.sdpMid, candidate: c.candidate,
      });
    };
    this.pc.ontrack = (ev) => {
      const track = ev.track;
      if (!this.remoteStream.getTracks().includes(track)) this.remoteStream.addTrack(track);
      track.addEventListener('ended', () => {
        this.remoteStream.removeTrack(track);
        this.emit('tracks');
      });
      track.addEventListener('mute', () => this.emit('tracks'));
      track.addEventListener('unmute', () => this.emit('tracks'));
      this.emit('tracks');
    };
    const stateChanged = () => this.emit('state', this.state);
    this.pc.onconnectionstatechange = stateChanged;
    this.pc.oniceconnectionstatechange = stateChanged;
    this.pc.ondatachannel = (ev) => {
      if (ev.channel.label === 'default') this._setupChannel(ev.channel);
    };
    if (initiator) this._setupChannel(this.pc.createDataChannel('default', { ordered: true }));
  }

  /** connected, connecting, disconnected, failed, closed or new: the most telling of the PC states. */
  get state() {
    if (this.closed) return 'closed';
    const cs = this.pc.connectionState;
    const ice = this.pc.iceConnectionState;
    if (cs) {
      if (cs === 'connected' || cs === 'failed' || cs === 'closed' || cs === 'disconnected') return cs;
      return ice === 'failed' ? 'failed' : cs;
    }
    if (ice === 'connected' || ice === 'completed') return 'connected';
    if (ice === 'checking') return 'connecting';
    return ice;
  }

  _setupChannel(dc) {
    this.dc = dc;
    dc.binaryType = 'arraybuffer';
    dc.onopen = () => this.emit('channel', 'open');
    dc.onclose = () => this.emit('channel', 'closed');
    dc.onmessage = (ev) => {
      if (ev.data instanceof ArrayBuffer) {
        this.emit('binary', ev.data);
        return;
      }
      if (typeof ev.data !== 'string' || ev.data.charCodeAt(0) === 2) return;
      let msg = null;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        // not JSON: reported as invalid below (file transfers close the connection on it)
      }
      if (msg && typeof msg === 'object' && !Array.isArray(msg)) this.emit('message', msg);
      else this.emit('message', { invalid: ev.data });
    };
  }

  get channelOpen() {
    return !!this.dc && this.dc.readyState === 'open';
  }

  /** Send a JSON message on the data channel; false when it is not open. */
  send(obj) {
    if (!this.channelOpen) return false;
    try {
      this.dc.send(JSON.stringify(obj));
      return true;
    } catch {
      return false;
    }
  }

  /** Send binary data on the data channel (file chunks); false when it is not open. */
  sendBinary(buffer) {
    if (!this.channelOpen) return false;
    try {
      this.dc.send(buffer);
      return true;
    } catch {
      return false;
    }
  }

  /** Attach the local stream's tracks (muted video goes out as no track at all). */
  addLocal(stream, { videoMuted = false } = {}) {
    if (!stream) return;
    for (const track of stream.getTracks()) {
      if (this.senders[track.kind]) continue;
      const sender = this.pc.addTrack(track, stream);
      this.senders[track.kind] = sender;
      if (track.kind === 'video' && videoMuted) sender.replaceTrack(null).catch(() => {});
    }
  }

  /** Ask to receive audio and video even when we send none of that kind. */
  receiveAll() {
    const kinds = new Set(this.pc.getTransceivers().map((tr) => tr.receiver.track && tr.receiver.track.kind));
    for (const kind of ['audio', 'video']) {
      if (!kinds.has(kind)) this.pc.addTransceiver(kind, { direction: 'recvonly' });
    }
  }

  /** Swap the outgoing track of one kind (device change, camera off/on); no renegotiation. */
  async replaceTrack(kind, track) {
    const sender = this.senders[kind];
    if (sender) {
      await sender.replaceTrack(track).catch((err) => console.warn('replaceTrack failed', err));
      await this._syncSending(sender);
    }
  }

  /**
   * A sender without a track sends nothing in Chrome and Safari, but Firefox keeps sending about one
   * black frame a second; an inactive encoding stops that everywhere, so the far end sees the video
   * stop and shows the placeholder. Needs negotiated parameters, so it runs again after each offer/answer.
   */
  async _syncSending(sender) {
    if (!sender || typeof sender.getParameters !== 'function' || typeof sender.setParameters !== 'function') return;
    const on = !!sender.track;
    try {
      const params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) return;
      if (params.encodings.every((e) => (e.active !== false) === on)) return;
      for (const e of params.encodings) e.active = on;
      await sender.setParameters(params);
    } catch (err) {
      console.warn('setParameters failed', err);
    }
  }

  async offer(extra = {}) {
    const desc = await this.pc.createOffer();
    await this.pc.setLocalDescription(desc);
    await this._syncSending(this.senders.video);
    const local = this.pc.localDescription;
    this.signal('Offer', { type: local.type, sdp: local.sdp, ...extra });
  }

  async acceptOffer(offer) {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offer.sdp });
    await this._flushCandidates();
  }

  async answer(extra = {}) {
    const desc = await this.pc.createAnswer();
    await this.pc.setLocalDescription(desc);
    await this._syncSending(this.senders.video);
    const local = this.pc.localDescription;
    this.signal('Answer', { type: local.type, sdp: local.sdp, ...extra });
  }

  async acceptAnswer(answer) {
    if (this.pc.signalingState !== 'have-local-offer') return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    await this._flushCandidates();
  }

  async addCandidate(c) {
    if (!c || !c.candidate) return;
    if (!this.pc.remoteDescription) {
      this.pendingCandidates.push(c);
      return;
    }
    try {
      await this.pc.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex });
    } catch (err) {
      console.warn('addIceCandidate failed', err);
    }
  }

  async _flushCandidates() {
    const list = this.pendingCandidates;
    this.pendingCandidates = [];
    for (const c of list) await this.addCandidate(c);
  }

  /** Video frames decoded so far: tells whether pictures still arrive, whatever the page renders. */
  async framesDecoded() {
    if (this.closed) return 0;
    const report = await this.pc.getStats();
    let n = 0;
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind || s.mediaType) === 'video') n += s.framesDecoded || 0;
    });
    return n;
  }

  /**
   * Inbound video/audio counters from getStats (for tests and diagnostics), plus the selected
   * candidate pair and every local/remote candidate address. Browsers name these differently:
   * Chrome and Safari point at the pair from the transport (selectedCandidatePairId), Firefox has no
   * transport stats and flags the pair itself (selected); older ones call the address ip/ipAddress.
   */
  async stats() {
    const out = {
      framesDecoded: 0, bytesReceived: 0, videoBytesReceived: 0, audioBytesReceived: 0, frameWidth: 0,
      pair: null, candidates: { local: [], remote: [] },
    };
    if (this.closed) return out;
    const report = await this.pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let pair = null;
    report.forEach((s) => {
      if (s.type === 'transport' && s.selectedCandidatePairId) pair = pair || byId.get(s.selectedCandidatePairId);
    });
    if (!pair) {
      report.forEach((s) => {
        if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = pair || s;
      });
    }
    const candidate = (s) => (s ? {
      address: s.address || s.ip || s.ipAddress || '', port: s.port || s.portNumber || 0,
      protocol: s.protocol || s.transport || '', type: s.candidateType || '',
    } : null);
    if (pair) out.pair = { local: candidate(byId.get(pair.localCandidateId)), remote: candidate(byId.get(pair.remoteCandidateId)) };
    report.forEach((s) => {
      if (s.type === 'local-candidate') out.candidates.local.push(candidate(s).address);
      else if (s.type === 'remote-candidate') out.candidates.remote.push(candidate(s).address);
    });
    report.forEach((s) => {
      if (s.type !== 'inbound-rtp') return;
      const kind = s.kind || s.mediaType;
      out.bytesReceived += s.bytesReceived || 0;
      if (kind === 'video') {
        out.framesDecoded += s.framesDecoded || 0;
        out.videoBytesReceived += s.bytesReceived || 0;
        out.frameWidth = Math.max(out.frameWidth, s.frameWidth || 0);
      } else if (kind === 'audio') {
        out.audioBytesReceived += s.bytesReceived || 0;
      }
    });
    return out;
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.dc) this.dc.close();
    } catch {
      // ignore
    }
    this.pc.onicecandidate = this.pc.ontrack = this.pc.ondatachannel = null;
    this.pc.onconnectionstatechange = this.pc.oniceconnectionstatechange = null;
    this.pc.close();
    for (const track of this.remoteStream.getTracks()) track.stop();
    this.emit('state', 'closed');
  }
}
