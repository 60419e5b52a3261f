// The connection check dialog: camera and microphone preview with a level meter, and the ICE
// candidates a peer connection gathers with this server's STUN/TURN settings, with a verdict in
// plain words (TURN trouble is the most common reason calls fail on self-hosted servers).

import { h, setText, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t, N_ } from '../i18n.js';
import { modal } from './dialogs.js';
import { gatherCandidates, verdict, serverKinds } from '../netcheck.js';

const VERDICTS = {
  'relay-ok': N_('Everything looks good: the relay (TURN) server works, so calls can connect even through strict firewalls.'),
  'no-turn': N_('No relay (TURN) server is configured. Calls work inside one network and between most home connections, but often fail behind company firewalls or on mobile networks. Administrators: set up a TURN server (for example coturn) and its secret in the server configuration.'),
  'turn-auth': N_('The relay (TURN) server refused the credentials. Administrators: make sure the TURN secret of this server and of the TURN server are the same, and that both clocks are right.'),
  'turn-unreachable': N_('A relay (TURN) server is configured but could not be reached, so calls across firewalls will fail. Administrators: check its address, that its ports (usually 3478, and 5349 for TLS) are open, and that it is running.'),
  'stun-unreachable': N_('The STUN server did not answer, so your public address is unknown. Calls between different networks may fail. Administrators: check the STUN address and that UDP port 3478 is open.'),
  'no-candidates': N_('Your browser found no way to connect at all. A browser extension or a strict network policy may block WebRTC.'),
};

function meter(stream) {
  const track = stream.getAudioTracks()[0];
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!track || !Ctx) return null;
  const ctx = new Ctx();
  const source = ctx.createMediaStreamSource(new MediaStream([track]));
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 1024;
  source.connect(analyser);
  const buf = new Float32Array(analyser.fftSize);
  return {
    level() {
      analyser.getFloatTimeDomainData(buf);
      let sum = 0;
      for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
      const db = 20 * Math.log10(Math.sqrt(sum / buf.length) || 1e-5);
      return Math.max(0, Math.min(100, (db + 55) * 2.2));
    },
    close() {
      source.disconnect();
      ctx.close().catch(() => {});
    },
  };
}

function line(label, value, cls) {
  return h('li', { class: `check-line ${cls || ''}` }, h('span', { class: 'check-label', text: label }), ' ', h('span', { class: 'check-value', text: value }));
}

export async function openConnectionCheck(app) {
  // camera and microphone
  const video = h('video', { class: 'check-video', autoplay: true, playsInline: true, muted: true });
  video.setAttribute('playsinline', '');
  const levelBar = h('span', { class: 'level-bar' });
  const mediaStatus = h('p', { class: 'check-status', 'aria-live': 'polite', text: t('Starting camera and microphone…') });
  const mediaBox = h('section', { class: 'check-section check-media' },
    h('h3', { text: t('Camera and microphone') }),
    h('div', { class: 'check-preview' }, video, h('div', { class: 'level check-level', title: t('Microphone level') }, levelBar)),
    mediaStatus);

  // network
  const netStatus = h('p', { class: 'check-status', 'aria-live': 'polite' });
  const results = h('ul', { class: 'check-results' });
  const details = h('ul', { class: 'check-candidates' });
  const verdictBox = h('p', { class: 'check-verdict', role: 'status', hidden: true });
  const again = h('button', { class: 'btn btn-small', type: 'button' }, icon('refresh'), h('span', { text: t('Test again') }));
  const netBox = h('section', { class: 'check-section check-network' },
    h('h3', { text: t('Network') }), netStatus, results, verdictBox,
    h('details', { class: 'check-details' }, h('summary', { text: t('Details') }), details), again);

  let stream = null;
  let ownStream = false;
  let meterHandle = null;
  let timer = 0;
  let closed = false;

  const startMedia = async () => {
    try {
      if (app.media.stream) {
        stream = app.media.stream;
      } else {
        stream = await navigator.mediaDevices.getUserMedia({
          audio: true,
          video: { width: { ideal: 320 }, height: { ideal: 180 }, ...(app.profile.get('camera') ? { deviceId: { ideal: app.profile.get('camera') } } : {}) },
        });
        ownStream = true;
      }
    } catch (err) {
      const denied = err && (err.name === 'NotAllowedError' || err.name === 'SecurityError');
      setText(mediaStatus, denied ? t('Access to camera and microphone was denied. Allow it in your browser (usually an icon in the address bar).')
        : t('No camera or microphone could be started: %s', err.message || err.name));
      mediaStatus.classList.add('bad');
      return;
    }
    if (closed) {
      if (ownStream) for (const tr of stream.getTracks()) tr.stop();
      return;
    }
    video.srcObject = stream;
    video.play().catch(() => {});
    const cam = stream.getVideoTracks()[0];
    const mic = stream.getAudioTracks()[0];
    const parts = [];
    parts.push(cam ? t('Camera: %s', cam.label || t('works')) : t('Camera: none found'));
    parts.push(mic ? t('Microphone: %s', mic.label || t('works')) : t('Microphone: none found'));
    setText(mediaStatus, `${parts.join(' · ')}. ${mic ? t('Speak: the bar should move.') : ''}`.trim());
    mediaStatus.classList.toggle('good', !!(cam && mic));
    meterHandle = mic ? meter(stream) : null;
    if (meterHandle) {
      timer = setInterval(() => {
        levelBar.style.width = `${Math.round(meterHandle.level())}%`;
      }, 150);
    }
  };

  const runNetwork = async () => {
    again.disabled = true;
    clear(results);
    clear(details);
    show(verdictBox, false);
    setText(netStatus, t('Testing the connection to the servers…'));
    if (!app.channel.self) {
      // the STUN/TURN settings come with the server's Self: wait a little for it
      await new Promise((resolve) => {
        const off = app.channel.on('self', () => {
          off();
          resolve();
        });
        setTimeout(() => {
          off();
          resolve();
        }, 5000);
      });
    }
    const servers = app.iceServers || [];
    const kinds = serverKinds(servers);
    const result = await gatherCandidates(servers);
    if (closed) return;
    const v = verdict(result, servers);
    const none = t('none');
    const list = (type) => result.candidates.filter((c) => c.type === type);
    const summary = (type, n) => (n ? `${n} (${[...new Set(list(type).map((c) => c.protocol))].join(', ')})` : none);
    setText(netStatus, t('Test finished after %s seconds.', (result.ms / 1000).toFixed(1)));
    results.append(
      line(t('STUN servers:'), kinds.stun.length ? kinds.stun.join(', ') : none, 'check-stun'),
      line(t('TURN servers:'), kinds.turn.length ? kinds.turn.join(', ') : none, 'check-turn'),
      line(t('Host candidates:'), summary('host', v.host), `check-host ${v.host ? 'good' : 'bad'}`),
      line(t('Server-reflexive candidates:'), v.srflx ? String(v.srflx) : none, `check-srflx ${v.srflx ? 'good' : (kinds.stun.length ? 'bad' : '')}`),
      line(t('Relay candidates:'), summary('relay', v.relay), `check-relay ${v.relay ? 'good' : 'bad'}`),
    );
    for (const c of result.candidates) {
      details.append(h('li', { class: `check-candidate check-${c.type}`, text: `${c.type} ${c.protocol} ${c.address}${c.port ? `:${c.port}` : ''}${c.relayProtocol ? ` (${c.relayProtocol})` : ''}` }));
    }
    for (const e of result.errors) {
      details.append(h('li', { class: 'check-error', text: `${t('Error')} ${e.errorCode || ''} ${e.url || ''} ${e.errorText || ''}`.trim() }));
    }
    setText(verdictBox, t(VERDICTS[v.code]));
    verdictBox.dataset.level = v.level;
    verdictBox.dataset.code = v.code;
    show(verdictBox, true);
    again.disabled = false;
  };
  again.addEventListener('click', () => runNetwork());

  const done = modal({
    title: t('Connection check'),
    className: 'check-dialog',
    body: [h('p', { class: 'check-intro', text: t('This test shows whether your camera and microphone work and whether calls can be connected from this network.') }), mediaBox, netBox],
    buttons: [{ label: t('Close'), value: true, kind: 'primary', submit: true }],
  });
  // host addresses show up only once the page may use the camera, so the network test waits for it
  // (but not forever: a permission prompt can stay open)
  Promise.race([startMedia(), new Promise((r) => setTimeout(r, 10000))]).then(() => runNetwork());
  await done;
  closed = true;
  clearInterval(timer);
  if (meterHandle) meterHandle.close();
  video.srcObject = null;
  if (ownStream && stream) for (const tr of stream.getTracks()) tr.stop();
}
