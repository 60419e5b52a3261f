// Sound cues synthesised with Web Audio: no audio files. Each cue is a list of short notes.

// [frequency Hz (or [from, to] for a glide), start s, duration s, volume 0..1, waveform]
const CUES = {
  ring: (() => {
    const notes = [];
    for (let burst = 0; burst < 2; burst++) {
      for (let i = 0; i < 8; i++) notes.push([i % 2 ? 784 : 988, burst * 1.0 + i * 0.085, 0.08, 0.35, 'triangle']);
    }
    return notes;
  })(),
  dial: [[440, 0, 1.2, 0.16, 'sine'], [480, 0, 1.2, 0.16, 'sine']],
  connect: [[523, 0, 0.12, 0.35, 'sine'], [784, 0.12, 0.2, 0.35, 'sine']],
  end: [[659, 0, 0.14, 0.35, 'sine'], [440, 0.14, 0.26, 0.35, 'sine']],
  prompt: [[880, 0, 0.12, 0.3, 'triangle'], [660, 0.14, 0.16, 0.3, 'triangle']],
  message: [[1046, 0, 0.07, 0.22, 'sine'], [1318, 0.075, 0.1, 0.22, 'sine']],
  joined: [[[600, 900], 0, 0.18, 0.2, 'sine']],
  left: [[[900, 600], 0, 0.18, 0.2, 'sine']],
};

export class Sounds {
  /** isEnabled(name): may this cue play now (the sound settings)? */
  constructor(isEnabled = () => true) {
    this.isEnabled = isEnabled;
    this.context = null;
    this.played = Object.create(null); // cues played, by name (read by the test hooks)
    this.skipped = Object.create(null); // cues that the settings silenced
    this.loops = new Map();
    const unlock = () => {
      const ctx = this._ctx();
      if (ctx && ctx.state === 'suspended') ctx.resume().catch(() => {});
    };
    document.addEventListener('pointerdown', unlock, { capture: true });
    document.addEventListener('keydown', unlock, { capture: true });
  }

  _ctx() {
    if (!this.context) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      try {
        this.context = new Ctx();
      } catch {
        return null;
      }
    }
    return this.context;
  }

  /** Play a cue once (skipped when the settings silence it or audio is unavailable). */
  play(name) {
    const cue = CUES[name];
    if (!cue) return;
    if (!this.isEnabled(name)) {
      this.skipped[name] = (this.skipped[name] || 0) + 1;
      return;
    }
    this.played[name] = (this.played[name] || 0) + 1;
    const ctx = this._ctx();
    if (!ctx) return;
    if (ctx.state === 'suspended') ctx.resume().catch(() => {});
    const t0 = ctx.currentTime + 0.02;
    const out = ctx.createGain();
    out.gain.value = 0.5;
    out.connect(ctx.destination);
    let end = t0;
    for (const [freq, start, dur, vol, type] of cue) {
      const osc = ctx.createOscillator();
      const env = ctx.createGain();
      osc.type = type;
      const at = t0 + start;
      if (Array.isArray(freq)) {
        osc.frequency.setValueAtTime(freq[0], at);
        osc.frequency.exponentialRampToValueAtTime(freq[1], at + dur);
      } else {
        osc.frequency.setValueAtTime(freq, at);
      }
      env.gain.setValueAtTime(0.0001, at);
      env.gain.exponentialRampToValueAtTime(vol, at + Math.min(0.015, dur / 4));
      env.gain.setValueAtTime(vol, at + dur * 0.7);
      env.gain.exponentialRampToValueAtTime(0.0001, at + dur);
      osc.connect(env).connect(out);
      osc.start(at);
      osc.stop(at + dur + 0.02);
      end = Math.max(end, at + dur + 0.05);
    }
    setTimeout(() => out.disconnect(), (end - ctx.currentTime + 0.1) * 1000);
  }

  /** Play a cue now and every `every` ms until the returned function is called. */
  loop(name, every = 4000) {
    this.stopLoop(name);
    this.play(name);
    const timer = setInterval(() => this.play(name), every);
    this.loops.set(name, timer);
    return () => this.stopLoop(name);
  }

  stopLoop(name) {
    const timer = this.loops.get(name);
    if (timer) clearInterval(timer);
    this.loops.delete(name);
  }
}
