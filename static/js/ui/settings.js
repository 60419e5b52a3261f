// The settings dialog: profile (name, status line, picture from camera or file), account, camera
// and microphone, sounds and notifications, language and "remember me" (web-client.md 1.9, 1.21).

import { h, show, clear, setText } from '../dom.js';
import { icon } from '../icons.js';
import { t, N_, LANGUAGES } from '../i18n.js';
import { modal, toast } from './dialogs.js';
import { snapshot, fromFile, UPLOAD_MAX } from '../picture.js';
import { QUALITIES } from '../profile.js';
import { accountSection } from './account.js';
import { openConnectionCheck } from './check.js';

const QUALITY_LABEL = {
  low: N_('Low (320×180)'), high: N_('High (640×360)'), hd: N_('HD (1280×720)'), fullhd: N_('Full HD (1920×1080)'),
};

let fieldCounter = 0;

function field(label, control, hint) {
  fieldCounter += 1;
  const id = `f-${fieldCounter}`;
  control.id = id;
  const hintNode = hint && h('small', { class: 'field-hint', id: `${id}-hint`, text: hint });
  if (hintNode) control.setAttribute('aria-describedby', hintNode.id);
  return h('div', { class: 'field' }, h('label', { for: id, text: label }), control, hintNode);
}

function select(name, options, value) {
  const el = h('select', { class: 'input', name });
  for (const [v, label] of options) el.append(h('option', { value: v, text: label, selected: v === value }));
  el.value = value;
  return el;
}

function checkbox(name, label, checked, hint) {
  const box = h('input', { type: 'checkbox', name, checked: !!checked });
  return h('label', { class: 'check' }, box, h('span', { class: 'check-text' }, h('span', { text: label }), hint && h('small', { class: 'field-hint', text: hint })));
}

function notificationState(app) {
  const perm = app.notifier.permission;
  return {
    granted: t('Your browser allows notifications from this page.'),
    denied: t('Your browser blocks notifications from this page. You can change that in the site settings of your browser.'),
    default: t('Your browser does not show notifications from this page yet.'),
    unsupported: t('This browser cannot show notifications.'),
  }[perm] || '';
}

export async function openSettings(app, { firstRun = false } = {}) {
  const profile = app.profile;
  let picture = profile.get('picture');
  let cameraStream = null;

  const name = h('input', { class: 'input', type: 'text', name: 'name', maxLength: 100, value: profile.get('name'), placeholder: t('Your name'), autocomplete: 'name' });
  const message = h('input', { class: 'input', type: 'text', name: 'message', maxLength: 140, value: profile.get('message'), placeholder: t('e.g. In a meeting until 3') });

  // picture: preview, take a photo with the camera, upload a file, remove
  const preview = h('div', { class: 'picture-preview' });
  const paint = () => {
    clear(preview).append(picture ? h('img', { class: 'avatar avatar-large', src: app.buddies.pictureURL(picture), alt: t('Your picture') })
      : h('span', { class: 'avatar avatar-large avatar-empty' }, icon('user')));
    show(removeBtn, !!picture);
  };
  const camVideo = h('video', { class: 'picture-camera', autoplay: true, playsInline: true, muted: true });
  camVideo.setAttribute('playsinline', '');
  const countdown = h('span', { class: 'picture-countdown', 'aria-live': 'assertive' });
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
      captureBtn.focus();
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
  const fileInput = h('input', { type: 'file', accept: 'image/*', class: 'visually-hidden', tabindex: '-1', 'aria-label': t('Upload picture') });
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
  const removeBtn = h('button', { class: 'btn btn-small btn-ghost', type: 'button' }, icon('trash'), h('span', { text: t('Remove picture') }));
  removeBtn.addEventListener('click', () => {
    picture = '';
    paint();
  });
  paint();

  // media: devices and quality
  const devices = await app.media.devices();
  const byKind = (kind, selectName, label, current) => {
    const list = devices.filter((d) => d.kind === kind && d.deviceId);
    const opts = [['', t('Default')]];
    list.forEach((d, i) => {
      if (d.deviceId !== 'default') opts.push([d.deviceId, d.label || `${label} ${i + 1}`]);
    });
    const el = select(selectName, opts, opts.some(([v]) => v === current) ? current : '');
    return { el, count: list.length };
  };
  const camera = byKind('videoinput', 'camera', t('Camera'), profile.get('camera'));
  const mic = byKind('audioinput', 'mic', t('Microphone'), profile.get('mic'));
  const speakerSupported = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
  const speaker = byKind('audiooutput', 'speaker', t('Speaker'), profile.get('speaker'));
  const quality = select('quality', QUALITIES.map((q) => [q, t(QUALITY_LABEL[q])]), profile.get('quality'));
  const noDevices = !camera.count && !mic.count;
  const checkBtn = h('button', { class: 'btn btn-small settings-check', type: 'button' }, icon('pulse'), h('span', { text: t('Check camera, microphone and connection') }));
  checkBtn.addEventListener('click', () => openConnectionCheck(app));

  // sounds and notifications
  const sounds = checkbox('sounds', t('Play sounds'), profile.get('sounds'));
  const soundRing = checkbox('soundRing', t('Ring for incoming calls'), profile.get('soundRing'));
  const soundMessages = checkbox('soundMessages', t('Sound for new messages'), profile.get('soundMessages'));
  const soundJoinLeave = checkbox('soundJoinLeave', t('Sound when someone joins or leaves'), profile.get('soundJoinLeave'));
  const soundKinds = h('div', { class: 'check-group' }, soundRing, soundMessages, soundJoinLeave);
  const soundsBox = sounds.querySelector('input');
  const syncSounds = () => {
    for (const box of soundKinds.querySelectorAll('input')) box.disabled = !soundsBox.checked;
  };
  soundsBox.addEventListener('change', syncSounds);
  syncSounds();
  const notify = checkbox('notify', t('Desktop notifications for calls and messages while this page is in the background'), profile.get('notify'));
  const permText = h('small', { class: 'field-hint notify-state', 'aria-live': 'polite' });
  const permBtn = h('button', { class: 'btn btn-small notify-allow', type: 'button' }, icon('bell'), h('span', { text: t('Allow notifications') }));
  const paintPermission = () => {
    setText(permText, notificationState(app));
    permText.dataset.permission = app.notifier.permission;
    show(permBtn, app.notifier.permission === 'default');
  };
  permBtn.addEventListener('click', async () => {
    await app.notifier.request();
    paintPermission();
    if (app.notifier.permission === 'granted') notify.querySelector('input').checked = true;
  });
  paintPermission();

  // general
  const language = select('language', [['', t('Automatic (from your browser)')], ...Object.entries(LANGUAGES)], profile.get('language') || '');
  const remember = checkbox('remember', t('Remember me on this device'), profile.remember,
    t('Keeps your settings and sign-in after the browser is closed. When off, they are forgotten when you close this tab.'));

  const body = [
    firstRun && h('p', { class: 'settings-intro', text: t('Welcome! Tell the others who you are, and check your camera and microphone. You can change everything later in the settings.') }),
    h('section', { class: 'settings-section' },
      h('h3', { text: t('Profile') }),
      h('div', { class: 'picture-row' }, preview, h('div', { class: 'picture-buttons' }, takeBtn, uploadBtn, removeBtn, fileInput)),
      camBox,
      field(t('Your name'), name),
      field(t('Status message'), message, t('Shown to others under your name.'))),
    app.accounts.enabled && accountSection(app),
    h('section', { class: 'settings-section' },
      h('h3', { text: t('Camera and microphone') }),
      noDevices && h('p', { class: 'field-hint', text: t('No camera or microphone found (or access not granted yet).') }),
      field(t('Camera'), camera.el),
      field(t('Microphone'), mic.el),
      speakerSupported && speaker.count ? field(t('Speaker'), speaker.el) : null,
      field(t('Video quality'), quality),
      checkBtn),
    h('section', { class: 'settings-section' },
      h('h3', { text: t('Sounds and notifications') }),
      sounds, soundKinds, notify, h('div', { class: 'notify-row' }, permText, permBtn)),
    h('section', { class: 'settings-section' },
      h('h3', { text: t('General') }),
      field(t('Language'), language, t('A new language is used after the page reloads.')),
      remember),
  ];

  const saved = await modal({
    title: t('Settings'),
    className: 'settings-dialog',
    body,
    buttons: [{ label: t('Cancel'), value: false }, { label: t('Save'), value: true, kind: 'primary', submit: true }],
    onOpen: () => name.focus(),
  });
  stopCamera();
  if (!saved) {
    if (firstRun) profile.save(); // asked once is enough
    return false;
  }
  const checked = (label) => label.querySelector('input').checked;
  const oldLanguage = profile.get('language') || '';
  profile.setRemember(checked(remember));
  const changed = profile.update({
    name: name.value.trim(), message: message.value.trim(), picture,
    camera: camera.el.value, mic: mic.el.value, speaker: speakerSupported ? speaker.el.value : profile.get('speaker'),
    quality: quality.value,
    sounds: checked(sounds), soundRing: checked(soundRing), soundMessages: checked(soundMessages), soundJoinLeave: checked(soundJoinLeave),
    notify: checked(notify),
    language: language.value,
  });
  if (language.value !== oldLanguage) app.languageChanged();
  else if (changed.length) toast(t('Settings saved.'), { kind: 'ok', timeout: 2500 });
  return true;
}
