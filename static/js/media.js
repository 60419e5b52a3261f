// Local media: getUserMedia with standard constraints, devices, quality presets, mute switches,
// device changes while in a call, the own audio level and talking detection
// (web-client.md 1.8, 1.9, 1.12; section 4 for the modern APIs).

import { Emitter } from './events.js';

export const QUALITY_CONSTRAINTS = {
  low: { width: { ideal: 320, max: 320 }, height: { ideal: 180, max: 180 }, frameRate: { ideal: 15 } },
  high: { width: { ideal: 640, max: 640 }, height: { ideal: 360, max: 360 }, frameRate: { ideal: 20 } },
  hd: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 24 } },
  fullhd: { width: { ideal: 1920 }, height: { ideal: 1080 }, frameRate: { ideal: 30 } },
};

const METER_INTERVAL = 150;
const TALK_START = 30;
const TALK_STOP = 18;
const DEVICES_WAIT = 1500;

/** An error with a short kind the UI can explain: denied, nodevices, busy, insecure, failed. */
export class MediaError extends Error {
  constructor(kind, cause) {
    super(cause ? `${kind}: ${cause.name || ''} ${cause.message || ''}`.trim() : kind);
    this.kind = kind;
    this.cause = cause;
  }
}

function classify(err) {
  const name = err && err.name;
  if (name === 'NotAllowedError' || name === 'SecurityError' || name === 'PermissionDeniedError') return 'denied';
  if (name === 'NotFoundError' || name === 'DevicesNotFoundError' || name === 'OverconstrainedError') return 'nodevices';
  if (name === 'NotReadableError' || name === 'TrackStartError' || name === 'AbortError') return 'busy';
  return 'failed';
}

export class Media extends Emitter {
  constructor(profile) {
    super();
    this.profile = profile;
    this.stream = null;
    this.pending = null;
    this.error = null;
    this.partial = '';
    this.audioMuted = false;
    this.videoMuted = false;
    this.level = 0;
    this.talking = false;
    this.audioContext = null;
    this.meter = null;
    this.supported = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    if (navigator.mediaDevices && navigator.mediaDevices.addEventListener) {
      navigator.mediaDevices.addEventListener('devicechange', () => this.emit('devicechange'));
    }
  }

  get active() {
    return !!this.stream;
  }

  /** The shared local stream, acquired once; resolves null (and emits "error") when unavailable. */
  ensure() {
    if (this.stream) return Promise.resolve(this.stream);
    if (!this.pending) {
      this.emit('acquiring');
      const pending = this._acquire().then((stream) => {
        if (this.pending !== pending) {
          // stop() came while the devices were opening (the user left): release them at once
          for (const track of stream.getTracks()) track.stop();
          return null;
        }
        this.pending = null;
        this.stream = stream;
        this.error = null;
        this._applyMutes();
        this._startMeter();
        this.emit('stream', stream);
        return stream;
      }, (err) => {
        if (this.pending !== pending) return null;
        this.pending = null;
        this.error = err instanceof MediaError ? err : new MediaError(classify(err), err);
        console.warn('local media unavailable', err);
        this.emit('error', this.error);
        return null;
      });
      this.pending = pending;
    }
    return this.pending;
  }

  /** Try again after an error (the Retry button). */
  retry() {
    this.error = null;
    this.emit('error', null);
    return this.ensure();
  }

  async devices() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return [];
    try {
      return await navigator.mediaDevices.enumerateDevices();
    } catch {
      return [];
    }
  }

  _audioConstraints() {
    const mic = this.profile.get('mic');
    const c = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
    if (mic) c.deviceId = { ideal: mic };
    return c;
  }

  _videoConstraints() {
    const cam = this.profile.get('camera');
    const c = { ...(QUALITY_CONSTRAINTS[this.profile.get('quality')] || QUALITY_CONSTRAINTS.high) };
    if (cam) c.deviceId = { ideal: cam };
    return c;
  }

  async _acquire() {
    if (!this.supported) throw new MediaError(window.isSecureContext === false ? 'insecure' : 'failed');
    // Firefox answers enumerateDevices only once the page has focus; a conference room opened in a
    // background window must not wait for that, so after a moment the devices count as unknown
    const list = await Promise.race([this.devices(), new Promise((resolve) => { setTimeout(() => resolve([]), DEVICES_WAIT); })]);
    const known = list.length > 0;
    const hasAudio = !known || list.some((d) => d.kind === 'audioinput');
    const hasVideo = !known || list.some((d) => d.kind === 'videoinput');
    if (!hasAudio && !hasVideo) throw new MediaError('nodevices');
    const attempts = [[hasAudio, hasVideo]];
    if (hasAudio && hasVideo) attempts.push([true, false], [false, true]);
    let lastError = null;
    for (const [audio, video] of attempts) {
      try {
        const stream = await navigator.mediaDevices.getUserMedia({
          audio: audio ? this._audioConstraints() : false,
          video: video ? this._videoConstraints() : false,
        });
        this.partial = '';
        if (hasAudio && !stream.getAudioTracks().length) this.partial = 'audio';
        if (hasVideo && !stream.getVideoTracks().length) this.partial = 'video';
        if (this.partial) this.emit('partial', this.partial, lastError);
        return stream;
      } catch (err) {
        lastError = err;
        if (classify(err) === 'denied') break;
      }
    }
    throw new MediaError(classify(lastError), lastError);
  }

  /** Stop the local devices (when no call needs them any more). */
  stop() {
    if (this.stream) {
      for (const track of this.stream.getTracks()) track.stop();
    }
    this.stream = null;
    this.pending = null; // an acquisition under way is released when it completes (ensure())
    this._stopMeter();
    this.emit('stopped');
  }

  track(kind) {
    if (!this.stream) return null;
    return (kind === 'audio' ? this.stream.getAudioTracks() : this.stream.getVideoTracks())[0] || null;
  }

  _applyMutes() {
    const a = this.track('audio');
    const v = this.track('video');
    if (a) a.enabled = !this.audioMuted;
    if (v) v.enabled = !this.videoMuted;
  }

  setAudioMuted(muted) {
    this.audioMuted = !!muted;
    this._applyMutes();
    if (muted) this._setTalking(false);
    this.emit('mute', 'audio', this.audioMuted);
  }

  setVideoMuted(muted) {
    this.videoMuted = !!muted;
    this._applyMutes();
    this.emit('mute', 'video', this.videoMuted);
  }

  /** Use another device (or new quality) for one kind; calls swap their sender tracks on "track". */
  refreshTrack(kind) {
    // one change at a time: capture devices do not like being reopened concurrently
    this.refreshing = (this.refreshing || Promise.resolve()).then(() => this._refresh(kind));
    return this.refreshing;
  }

  async _refresh(kind) {
    if (!this.stream) return;
    const old = this.track(kind);
    const chosen = this.profile.get(kind === 'audio' ? 'mic' : 'camera');
    const constraints = kind === 'audio' ? this._audioConstraints() : this._videoConstraints();
    if (chosen) constraints.deviceId = { exact: chosen };
    let fresh;
    if (old) old.stop();
    try {
      fresh = await this._single(kind, constraints);
    } catch (err) {
      try {
        if (!chosen) throw err;
        delete constraints.deviceId; // the chosen device is gone: take the default one
        fresh = await this._single(kind, constraints);
      } catch (err2) {
        this.emit('error', new MediaError(classify(err2), err2));
        return;
      }
    }
    if (!this.stream) {
      fresh.stop();
      return;
    }
    if (old) this.stream.removeTrack(old);
    this.stream.addTrack(fresh);
    this._applyMutes();
    if (kind === 'audio') this._startMeter();
    this.emit('track', kind, fresh, old);
    this.emit('stream', this.stream);
  }

  async _single(kind, constraints) {
    const s = await navigator.mediaDevices.getUserMedia(kind === 'audio'
      ? { audio: constraints, video: false } : { audio: false, video: constraints });
    return (kind === 'audio' ? s.getAudioTracks() : s.getVideoTracks())[0];
  }

  // ---- level meter and talking detection (AnalyserNode polled every 150 ms)

  _context() {
    if (!this.audioContext) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      this.audioContext = new Ctx();
      const resume = () => {
        if (this.audioContext.state === 'suspended') this.audioContext.resume().catch(() => {});
      };
      document.addEventListener('pointerdown', resume, { capture: true });
      document.addEventListener('keydown', resume, { capture: true });
    }
    if (this.audioContext.state === 'suspended') this.audioContext.resume().catch(() => {});
    return this.audioContext;
  }

  _startMeter() {
    this._stopMeter();
    const track = this.track('audio');
    const ctx = track && this._context();
    if (!ctx) return;
    const source = ctx.createMediaStreamSource(new MediaStream([track]));
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 1024;
    source.connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const recent = [];
    const timer = setInterval(() => {
      let level = 0;
      if (!this.audioMuted && track.readyState === 'live') {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
        const rms = Math.sqrt(sum / buf.length);
        const db = rms > 0 ? 20 * Math.log10(rms) : -100;
        level = Math.max(0, Math.min(100, (db + 55) * 2.2));
      }
      recent.push(level);
      if (recent.length > 4) recent.shift();
      const mean = recent.reduce((a, b) => a + b, 0) / recent.length;
      this.level = level;
      this.emit('level', level);
      if (!this.talking && mean > TALK_START) this._setTalking(true);
      else if (this.talking && mean < TALK_STOP) this._setTalking(false);
    }, METER_INTERVAL);
    this.meter = { source, analyser, timer };
  }

  _stopMeter() {
    if (!this.meter) return;
    clearInterval(this.meter.timer);
    try {
      this.meter.source.disconnect();
    } catch {
      // already disconnected
    }
    this.meter = null;
    this.level = 0;
    this.emit('level', 0);
    this._setTalking(false);
  }

  _setTalking(talking) {
    if (this.talking === talking) return;
    this.talking = talking;
    this.emit('talking', talking);
  }
}
