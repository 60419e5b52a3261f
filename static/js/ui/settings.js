// The settings dialog: profile (name, status line, picture from camera or file) and media
// (camera, microphone, speaker, quality, sounds).

import { h, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';
import { modal, toast } from './dialogs.js';
import { snapshot, fromFile, UPLOAD_MAX } from '../picture.js';
import { QUALITIES } from '../profile.js';

const QUALITY_LABEL = {
  low: 'Low (320×180)', high: 'High (640×360)', hd: 'HD (1280×720)', fullhd: 'Full HD (1920×1080)',
};

function field(label, control, hint) {
  const id = `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control, hint && h('small', { class: 'field-hint', text: hint }));
}

function select(options, value) {
  const el = h('select', { class: 'input' });
  for (const [v, label] of options) el.append(h('option', { value: v, text: label, selected: v === value }));
  el.value = value;
  return el;
}

export async function openSettings(app) {
  const profile = app.profile;
  let picture = profile.get('picture');
  let cameraStream = null;

  const name = h('input', { class: 'input', type: 'text', maxLength: 100, value: profile.get('name'), placeholder: t('Your name'), autocomplete: 'name' });
  const message = h('input', { class: 'input', type: 'text', maxLength: 140, value: profile.get('message'), placeholder: t('e.g. In a meeting until 3') });

  // picture: preview, take a photo with the camera, upload a file, remove
  const preview = h('div', { class: 'picture-preview' });
  const paint = () => {
    clear(preview).append(picture ? h('img', { class: 'avatar avatar-large', src: app.buddies.pictureURL(picture), alt: t('Your picture') })
      : h('span', { class: 'avatar avatar-large avatar-empty' }, icon('user')));
    show(removeBtn, !!picture);
  };
  const camVideo = h('video', { class: 'picture-camera', autoplay: true, playsInline: true, muted: true });
  camVideo.setAttribute('playsinline', '');
  const countdown = h('span', { class: 'picture-countdown' });
  const captureBtn = h('button', { class: 'btn btn-primary btn-small', type: 'button' }, icon('camera'), h('span', { text: t('Capture') }));
  const cancelCam = h('button', { class: 'btn btn-small', type: 'button', text: t('Cancel') });
  const camBox = h('div', { class: 'picture-capture', hidden: true }, h('div', { class: 'picture-frame' }, camVideo, countdown), h('div', { class: 'button-row' }, cancelCam, captureBtn));
  const stopCamera = () => {
    if (cameraStream) for (const tr of cameraStream.getTracks()) tr.stop();
    cameraStream = null;
    camVideo.srcObject = null;
    show(camBox, false);
  };
  const takeBtn = h('button', { class: 'btn btn-small', type: 'button' }, icon('camera'), h('span', { text: t('Take photo') }));
  takeBtn.addEventListener('click', async () => {
    try {
      const cam = profile.get('camera');
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 }, ...(cam ? { deviceId: { ideal: cam } } : {}) }, audio: false });
      camVideo.srcObject = cameraStream;
      show(camBox, true);
      camVideo.play().catch(() => {});
    } catch (err) {
      toast(t('The camera is not available: %s', err.message || err.name), { kind: 'error' });
    }
  });
  captureBtn.addEventListener('click', async () => {
    for (const n of [3, 2, 1]) {
      countdown.textContent = String(n);
      await new Promise((r) => setTimeout(r, 600));
    }
    countdown.textContent = '';
    try {
      picture = snapshot(camVideo);
      paint();
    } catch {
      toast(t('Could not take a picture.'), { kind: 'error' });
    }
    stopCamera();
  });
  cancelCam.addEventListener('click', stopCamera);
  const fileInput = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', 'aria-label': t('Upload picture') });
  fileInput.addEventListener('change', async () => {
    const file = fileInput.files && fileInput.files[0];
    fileInput.value = '';
    if (!file) return;
    if (file.size > UPLOAD_MAX) {
      toast(t('The picture is too large (8 MB at most).'), { kind: 'error' });
      return;
    }
    try {
      picture = await fromFile(file);
      paint();
    } catch {
      toast(t('This file is not an image that can be used.'), { kind: 'error' });
    }
  });
  const uploadBtn = h('button', { class: 'btn btn-small', type: 'button' }, icon('upload'), h('span', { text: t('Upload picture') }));
  uploadBtn.addEventListener('click', () => fileInput.click());
  const removeBtn = h('button', { class: 'btn btn-small btn-ghost', type: 'button' }, icon('trash'), h('span', { text: t('Remove') }));
  removeBtn.addEventListener('click', () => {
    picture = '';
    paint();
  });
  paint();

  // media: devices and quality
  const devices = await app.media.devices();
  const byKind = (kind, label, current) => {
    const list = devices.filter((d) => d.kind === kind && d.deviceId);
    const opts = [['', t('Default')]];
    list.forEach((d, i) => {
      if (d.deviceId !== 'default') opts.push([d.deviceId, d.label || `${label} ${i + 1}`]);
    });
    const el = select(opts, opts.some(([v]) => v === current) ? current : '');
    return { el, count: list.length };
  };
  const camera = byKind('videoinput', t('Camera'), profile.get('camera'));
  const mic = byKind('audioinput', t('Microphone'), profile.get('mic'));
  const speakerSupported = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
  const speaker = byKind('audiooutput', t('Speaker'), profile.get('speaker'));
  const quality = select(QUALITIES.map((q) => [q, t(QUALITY_LABEL[q])]), profile.get('quality'));
  const sounds = h('input', { type: 'checkbox', checked: !!profile.get('sounds') });
  const noDevices = !camera.count && !mic.count;

  const body = [
    h('section', { class: 'settings-section' },
      h('h3', { text: t('Profile') }),
      h('div', { class: 'picture-row' }, preview, h('div', { class: 'picture-buttons' }, takeBtn, uploadBtn, removeBtn, fileInput)),
      camBox,
      field(t('Your name'), name),
      field(t('Status message'), message, t('Shown to others under your name.'))),
    h('section', { class: 'settings-section' },
      h('h3', { text: t('Camera and microphone') }),
      noDevices && h('p', { class: 'field-hint', text: t('No camera or microphone found (or access not granted yet).') }),
      field(t('Camera'), camera.el),
      field(t('Microphone'), mic.el),
      speakerSupported && speaker.count ? field(t('Speaker'), speaker.el) : null,
      field(t('Video quality'), quality),
      h('label', { class: 'check' }, sounds, h('span', { text: t('Play sounds (ringing, messages)') }))),
  ];

  const saved = await modal({
    title: t('Settings'),
    className: 'settings-dialog',
    body,
    buttons: [{ label: t('Cancel'), value: false }, { label: t('Save'), value: true, kind: 'primary', submit: true }],
    onOpen: () => name.focus(),
  });
  stopCamera();
  if (!saved) return;
  const changed = profile.update({
    name: name.value.trim(), message: message.value.trim(), picture,
    camera: camera.el.value, mic: mic.el.value, speaker: speakerSupported ? speaker.el.value : profile.get('speaker'),
    quality: quality.value, sounds: sounds.checked,
  });
  if (changed.length) toast(t('Settings saved.'), { kind: 'ok', timeout: 2500 });
}
