// Screen sharing (web-client.md 1.13, 3.4). The sharer captures with getDisplayMedia.
//
// Mesh rooms and calls: the sharer publishes a token `screenshare_<ownid>_<n>` and tells every call
// partner over the data channel; each partner opens a receive-only token connection and shows the
// stream. Stopping (our button or the browser's own "stop sharing") sends {"m":"bye"} on every token
// connection.
//
// Rooms on the SFU (docs/sfu.md): the screen is a second stream published to Janus on its own
// PeerConnection (sfu.js), and everyone receives it on the subscriber connection they already have;
// no peer-to-peer screen connections. When the room switches during a share, the share follows:
// to the SFU at once (the token stays for mesh links still up, and goes with the last of them), and
// back to the mesh as the mesh links open (the SFU stream stays until the SFU connections close).

import { Emitter } from './events.js';

export const SCREENSHARE = 'screenshare';
const SFU_RETRIES = 3; // consecutive failed SFU publications before the share is stopped

export class ScreenShare extends Emitter {
  /** tokens: TokenConnections; calls: Calls; ownId(): own session id; sfu: the SFU client (optional). */
  constructor({ tokens, calls, ownId, sfu = null }) {
    super();
    this.tokens = tokens;
    this.calls = calls;
    this.ownId = ownId;
    this.sfu = sfu;
    this.stream = null;
    this.token = ''; // our published token while the share goes (also) peer to peer
    this.counter = 0;
    this.starting = false;
    this.viaSfu = false; // our share is published (or being published) through the SFU
    this.sfuFailures = 0;
    this.p2p = new Map(); // peerId -> {peerId, token, peer, stream, live}: screens on token connections
    this.dismissed = new WeakSet(); // streams of SFU screens the user closed
    calls.on('channel', (call, state) => {
      if (state === 'open' && this.token) this._announce(call.peerId);
    });
    calls.on('channel-message', (peerId, msg) => {
      if (msg && msg.Type === 'Screenshare' && msg.Screenshare && typeof msg.Screenshare.id === 'string') {
        this.watch(peerId, msg.Screenshare.id);
      }
    });
    calls.on('removed', (call) => {
      this._closeP2p(call.peerId);
      this.tokens.closePeer(call.peerId, SCREENSHARE);
      if (this.calls.size) return;
      if (this.viaSfu) this._unpublishToken(); // the SFU carries the share; no mesh partner is left
      else this.stop();
    });
    if (sfu) {
      sfu.on('screens', () => this.emit('views'));
      sfu.on('mode', (mode) => this._follow(mode));
      sfu.on('screen-lost', (reason) => this._screenLost(reason));
    }
  }

  get supported() {
    return !!(navigator.mediaDevices && typeof navigator.mediaDevices.getDisplayMedia === 'function');
  }

  get sharing() {
    return !!this.stream;
  }

  /**
   * The screens shown, one per sharing peer: a live token connection wins, then the SFU's stream,
   * then a token connection still connecting (so a switch either way shows no gap).
   */
  get views() {
    const out = new Map();
    if (this.sfu) {
      for (const [id, s] of this.sfu.screens) {
        if (!this.dismissed.has(s.stream)) out.set(id, { peerId: id, token: '', peer: null, stream: s.stream, live: true, sfu: true });
      }
    }
    for (const [id, view] of this.p2p) if (view.live || !out.has(id)) out.set(id, view);
    return out;
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
    video.addEventListener('ended', () => { if (this.stream === stream) this.stop(); });
    this.stream = stream;
    this.sfuFailures = 0;
    if (this.sfu && this.sfu.active) this._toSfu();
    else this._toMesh();
    this.emit('change');
    return true;
  }

  // ------------------------------------------------------------ the two ways a share travels

  /** Peer to peer: publish a token and tell every call partner (and those whose channel opens later). */
  _toMesh() {
    const stream = this.stream;
    if (!stream || this.token) return;
    this.token = `screenshare_${this.ownId()}_${this.counter}`;
    this.counter += 1;
    this.tokens.publish(this.token, SCREENSHARE, (peer) => {
      if (this.stream !== stream) return false;
      for (const track of stream.getTracks()) peer.pc.pc.addTrack(track, stream);
      return true;
    });
    for (const call of this.calls.list()) this._announce(call.peerId);
  }

  _unpublishToken() {
    const token = this.token;
    if (!token) return;
    this.token = '';
    for (const peer of this.tokens.connections(token)) {
      peer.send({ m: 'bye' });
      setTimeout(() => peer.close('bye'), 100);
    }
    this.tokens.unpublish(token);
  }

  /** Through the SFU: a second published stream. Failing while the room stays on the SFU (no mesh
   * links to fall back to), it is tried again, and after SFU_RETRIES the share stops with a notice. */
  async _toSfu() {
    const stream = this.stream;
    if (!stream || this.viaSfu || !this.sfu) return;
    this.viaSfu = true;
    const ok = await this.sfu.publishScreen(stream);
    if (this.stream !== stream) return; // stopped meanwhile (stop() unpublished it)
    if (ok) {
      this.sfuFailures = 0;
      if (!this.calls.size) this._unpublishToken();
      this.emit('change');
      return;
    }
    this.viaSfu = false;
    if (!this.sfu.active) {
      this._toMesh(); // the room went back to the mesh meanwhile
    } else if (++this.sfuFailures < SFU_RETRIES) {
      setTimeout(() => { if (this.stream === stream && this.sfu.active) this._toSfu(); }, 1000);
    } else {
      this.stop();
      this.emit('error', new Error('the server could not forward the screen'));
    }
  }

  /** The room switched: the share follows. */
  _follow(mode) {
    if (!this.stream) return;
    if (mode === 'sfu' && !this.viaSfu) this._toSfu();
    else if (mode === 'mesh') this._toMesh();
  }

  /** Our SFU screen stream went away without us: Janus hung up or the SFU connections closed. */
  _screenLost(reason) {
    if (!this.stream || !this.viaSfu) return;
    this.viaSfu = false;
    if (this.sfu.active) {
      this.sfuFailures += 1;
      const stream = this.stream;
      if (this.sfuFailures < SFU_RETRIES) {
        setTimeout(() => { if (this.stream === stream && this.sfu.active && !this.viaSfu) this._toSfu(); }, 1000);
      } else {
        this.stop();
        this.emit('error', new Error(`the server stopped forwarding the screen (${reason})`));
      }
    } else if (!this.token) {
      this.stop(); // we left the SFU room: nobody to share with
    }
    this.emit('change');
  }

  _announce(peerId) {
    this.calls.sendChannel(peerId, { Id: this.ownId(), Type: 'Screenshare', Screenshare: { id: this.token } });
  }

  /** Stop sharing: viewers get a bye on their token connection, the SFU stream is unpublished. */
  stop() {
    if (!this.stream) return;
    const stream = this.stream;
    this.stream = null;
    if (this.viaSfu) {
      this.viaSfu = false;
      this.sfu.unpublishScreen();
    }
    this._unpublishToken();
    for (const track of stream.getTracks()) track.stop();
    this.emit('change');
  }

  // ------------------------------------------------------------ watching

  /** A call partner shares a screen: connect to it (receive only). */
  watch(peerId, token) {
    const current = this.p2p.get(peerId);
    if (current && current.token === token && !current.peer.closed) return;
    if (current) this._closeP2p(peerId);
    const peer = this.tokens.connect(peerId, token, SCREENSHARE, { receive: { video: true } });
    const view = { peerId, token, peer, stream: peer.stream, live: false };
    this.p2p.set(peerId, view);
    peer.on('tracks', () => {
      view.live = peer.stream.getVideoTracks().some((tr) => tr.readyState === 'live');
      this.emit('views');
    });
    peer.on('message', (msg) => {
      if (msg && msg.m === 'bye') peer.close('bye');
    });
    peer.on('close', () => {
      if (this.p2p.get(peerId) === view) {
        this.p2p.delete(peerId);
        this.emit('views');
      }
    });
    this.emit('views');
  }

  _closeP2p(peerId) {
    const view = this.p2p.get(peerId);
    if (!view) return;
    this.p2p.delete(peerId);
    view.peer.close('local');
    this.emit('views');
  }

  /** The user closes a peer's screen (or the peer left): its token connection ends, its SFU
   * stream is no longer shown (a new share of that peer is shown again). */
  closeView(peerId) {
    const s = this.sfu && this.sfu.screens.get(peerId);
    if (s) this.dismissed.add(s.stream);
    this._closeP2p(peerId);
    this.emit('views');
  }

  closeAll() {
    this.stop();
    for (const id of [...this.p2p.keys()]) this._closeP2p(id);
  }
}
