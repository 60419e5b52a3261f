// Screen sharing (web-client.md 1.13, 3.4): the sharer captures with getDisplayMedia, publishes a
// token `screenshare_<ownid>_<n>` and tells every call partner over the data channel; each partner
// opens a receive-only token connection and shows the stream. Stopping (our button or the
// browser's own "stop sharing") sends {"m":"bye"} on every token connection.

import { Emitter } from './events.js';

export const SCREENSHARE = 'screenshare';

export class ScreenShare extends Emitter {
  /** tokens: TokenConnections; calls: Calls; ownId(): own session id. */
  constructor({ tokens, calls, ownId }) {
    super();
    this.tokens = tokens;
    this.calls = calls;
    this.ownId = ownId;
    this.stream = null;
    this.token = '';
    this.counter = 0;
    this.starting = false;
    this.views = new Map(); // peerId -> {peerId, token, peer, stream}
    calls.on('channel', (call, state) => {
      if (state === 'open' && this.token) this._announce(call.peerId);
    });
    calls.on('channel-message', (peerId, msg) => {
      if (msg && msg.Type === 'Screenshare' && msg.Screenshare && typeof msg.Screenshare.id === 'string') {
        this.watch(peerId, msg.Screenshare.id);
      }
    });
    calls.on('removed', (call) => {
      this.closeView(call.peerId);
      this.tokens.closePeer(call.peerId, SCREENSHARE);
      if (!this.calls.size) this.stop();
    });
  }

  get supported() {
    return !!(navigator.mediaDevices && typeof navigator.mediaDevices.getDisplayMedia === 'function');
  }

  get sharing() {
    return !!this.stream;
  }

  /** Ask the browser for a screen, window or tab and offer it to everyone in the call. */
  async start() {
    if (this.stream || this.starting || !this.supported) return false;
    this.starting = true;
    this.emit('change');
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({
        video: { frameRate: { ideal: 15, max: 30 }, width: { max: 1920 }, height: { max: 1080 } },
        audio: false,
      });
    } catch (err) {
      this.starting = false;
      this.emit('change');
      if (err && err.name !== 'NotAllowedError' && err.name !== 'AbortError') this.emit('error', err);
      return false;
    }
    this.starting = false;
    const video = stream.getVideoTracks()[0];
    if (!video) {
      for (const tr of stream.getTracks()) tr.stop();
      this.emit('change');
      return false;
    }
    if ('contentHint' in video) video.contentHint = 'detail';
    // the browser's own "stop sharing" button ends the track
    video.addEventListener('ended', () => this.stop());
    this.stream = stream;
    this.counter += 1;
    this.token = `screenshare_${this.ownId()}_${this.counter - 1}`;
    this.tokens.publish(this.token, SCREENSHARE, (peer) => {
      if (!this.stream) return false;
      for (const track of this.stream.getTracks()) peer.pc.pc.addTrack(track, this.stream);
      return true;
    });
    for (const call of this.calls.list()) this._announce(call.peerId);
    this.emit('change');
    return true;
  }

  _announce(peerId) {
    this.calls.sendChannel(peerId, { Id: this.ownId(), Type: 'Screenshare', Screenshare: { id: this.token } });
  }

  /** Stop sharing: viewers get a bye on their token connection. */
  stop() {
    if (!this.stream) return;
    const token = this.token;
    const stream = this.stream;
    this.stream = null;
    this.token = '';
    for (const peer of this.tokens.connections(token)) {
      peer.send({ m: 'bye' });
      setTimeout(() => peer.close('bye'), 100);
    }
    this.tokens.unpublish(token);
    for (const track of stream.getTracks()) track.stop();
    this.emit('change');
  }

  // ------------------------------------------------------------ watching

  /** A call partner shares a screen: connect to it (receive only). */
  watch(peerId, token) {
    const current = this.views.get(peerId);
    if (current && current.token === token && !current.peer.closed) return;
    if (current) this.closeView(peerId);
    const peer = this.tokens.connect(peerId, token, SCREENSHARE, { receive: { video: true } });
    const view = { peerId, token, peer, stream: peer.stream, live: false };
    this.views.set(peerId, view);
    peer.on('tracks', () => {
      view.live = peer.stream.getVideoTracks().some((tr) => tr.readyState === 'live');
      this.emit('views');
    });
    peer.on('message', (msg) => {
      if (msg && msg.m === 'bye') peer.close('bye');
    });
    peer.on('close', () => {
      if (this.views.get(peerId) === view) {
        this.views.delete(peerId);
        this.emit('views');
      }
    });
    this.emit('views');
  }

  closeView(peerId) {
    const view = this.views.get(peerId);
    if (!view) return;
    this.views.delete(peerId);
    view.peer.close('local');
    this.emit('views');
  }

  closeAll() {
    this.stop();
    for (const id of [...this.views.keys()]) this.closeView(id);
  }
}
