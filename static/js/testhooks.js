// A read-only handle for browser tests (only when the server config enables app.testHooks).

import { gridShape } from './ui/stage.js';
import { crc32, encodeChunk, decodeChunk } from './chunks.js';
import { currentLanguage } from './i18n.js';

export function installTestHooks(app) {
  const chatLog = new Map(); // Mid -> list of states seen in order
  app.chat.on('message', (conv, msg) => {
    if (msg.own && msg.mid) chatLog.set(msg.mid, [msg.state || 'room']);
  });
  app.chat.on('state', (conv, msg) => {
    const list = chatLog.get(msg.mid) || [];
    if (list[list.length - 1] !== msg.state) list.push(msg.state);
    chatLog.set(msg.mid, list);
  });
  const dcLog = [];
  app.calls.on('talking', (call) => dcLog.push({ dir: 'in', peer: call.peerId, Type: 'Talking', Talking: call.talking }));
  app.calls.on('chat', (peerId, msg) => dcLog.push({ dir: 'in', peer: peerId, Type: 'Chat', Chat: msg.Chat }));
  const hooks = {
    get id() { return app.ownId(); },
    get token() { return app.channel.token; },
    get connected() { return app.channel.connected; },
    get room() { return app.rooms.current ? { ...app.rooms.current } : null; },
    get status() { return document.body.dataset.callState || ''; },
    get conferenceId() { return app.calls.conferenceId; },
    get calls() {
      return app.calls.shown().map((c) => ({
        peer: c.peerId,
        state: c.state,
        outgoing: c.outgoing,
        conference: c.conference,
        connectionState: c.pc ? c.pc.state : 'new',
        channel: c.pc && c.pc.dc ? c.pc.dc.readyState : 'none',
        talking: c.talking,
        sfu: !!c.sfu,
      }));
    },
    get sfu() {
      const s = app.sfu;
      return { active: s.active, publishing: !!s.pub, subscribed: !!s.sub, peers: [...s.records.keys()],
        streams: s.streams.map((x) => `${x.Mid}:${String(x.Id).slice(0, 6)}:${x.Media}`),
        log: s.log.slice(),
        transceivers: s.sub ? s.sub.getTransceivers().map((t) => `${t.mid}:${t.currentDirection}:${t.receiver.track.muted}`) : [] };
    },
    sfuStats(peerId) { return app.sfu.stats(peerId); },
    /** Every PeerConnection of the page, for tests: [{role, outboundVideo, pair}] */
    async peerConnections() {
      const out = [];
      const look = async (role, pc) => {
        if (!pc) return;
        const report = await pc.getStats();
        let outboundVideo = 0;
        let pair = null;
        const byId = new Map();
        report.forEach((r) => byId.set(r.id, r));
        report.forEach((r) => {
          if (r.type === 'outbound-rtp' && r.kind === 'video' && (r.bytesSent || 0) > 0) outboundVideo += 1;
          if (r.type === 'transport' && r.selectedCandidatePairId) pair = byId.get(r.selectedCandidatePairId);
        });
        const cand = (id) => { const c = byId.get(id); return c ? c.address || c.ip || '' : ''; };
        out.push({ role, outboundVideo, state: pc.connectionState,
          local: pair ? cand(pair.localCandidateId) : '', remote: pair ? cand(pair.remoteCandidateId) : '' });
      };
      for (const c of app.calls.list()) if (c.pc) await look('mesh', c.pc.pc);
      await look('sfu-pub', app.sfu.pub);
      await look('sfu-sub', app.sfu.sub);
      return out;
    },
    get buddies() { return [...app.buddies.map.keys()]; },
    get chatStates() { return Object.fromEntries([...chatLog].map(([k, v]) => [k, [...v]])); },
    get dcMessages() { return dcLog.slice(-50); },
    get sounds() { return { ...app.sounds.played }; },
    get local() {
      const s = app.media.stream;
      return s ? s.getTracks().map((tr) => ({
        id: tr.id, kind: tr.kind, label: tr.label, enabled: tr.enabled, readyState: tr.readyState,
        settings: tr.getSettings(), constraints: tr.getConstraints(),
      })) : [];
    },
    get level() { return app.media.level; },
    get userid() { return app.accounts.userid; },
    get language() { return currentLanguage(); },
    get downloads() {
      return Object.fromEntries([...app.files.downloads].map(([k, d]) => [k, {
        state: d.state, error: d.error, count: d.count, chunks: d.info.chunks, bytes: d.bytes, connections: d.conns.size,
        sink: d.sink ? d.sink.kind : '',
      }]));
    },
    get shares() {
      return Object.fromEntries([...app.files.shares].map(([k, sh]) => [k, {
        name: sh.info.name, chunks: sh.info.chunks, unshared: sh.unshared, active: sh.active.length, completed: [...sh.completed],
        sent: sh.active.map((x) => x.sent.size),
      }]));
    },
    get tokenConnections() {
      return [...app.tokens.peers.values()].map((p) => ({ peer: p.peerId, token: p.token, kind: p.kind, initiator: p.initiator, open: p.open }));
    },
    get sharingScreen() { return app.screenshare.sharing; },
    get screenViews() { return [...app.screenshare.views.keys()]; },
    get notifications() { return [...app.notifier.shown]; },
    get skippedSounds() { return { ...app.sounds.skipped }; },
    setFileDelay(ms) { app.files.delay = ms; },
    setMemoryDownloads(on) { app.files.memoryOnly = !!on; },
    /** The browser's own "stop sharing" button: the capture track ends. */
    endScreenCapture() {
      const stream = app.screenshare.stream;
      if (!stream) return false;
      for (const track of stream.getTracks()) {
        track.stop();
        track.dispatchEvent(new Event('ended'));
      }
      return true;
    },
    crc32(bytes) { return crc32(new Uint8Array(bytes)); },
    encodeChunk(index, bytes) { return [...new Uint8Array(encodeChunk(index, new Uint8Array(bytes)))]; },
    decodeChunk(bytes) {
      try {
        const c = decodeChunk(new Uint8Array(bytes).buffer);
        return { index: c.index, crc: c.crc, payload: [...c.payload] };
      } catch (err) {
        return { error: err.kind || err.message };
      }
    },
    closeSocket() { app.channel.closeSocket(); },
    gridShape(n, width, height) { return gridShape(n, width, height); },
    getStats(peerId) { return app.calls.stats(peerId); },
    setCallTimeouts(pickupMs, ringerMs) {
      app.calls.pickupTimeout = pickupMs;
      app.calls.ringerTimeout = ringerMs;
    },
  };
  Object.defineProperty(window, '__spreedTest', { value: Object.freeze(hooks), configurable: false });
}
