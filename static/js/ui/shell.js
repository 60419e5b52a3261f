// The page frame: top bar with the status line and tools, connection banner, media notice,
// and the workspace holding the stage and the side panel (people / chat).

import { h, setText, show, clear } from '../dom.js';
import { icon, logo } from '../icons.js';
import { t } from '../i18n.js';
import { cfg } from '../config.js';

const PHONE = window.matchMedia('(max-width: 720px)');

function iconButton(name, label, cls = '') {
  return h('button', { class: `icon-btn ${cls}`, type: 'button', title: label, 'aria-label': label }, icon(name));
}

export class Shell {
  constructor(app) {
    this.app = app;
    this.sideTab = 'people';
    this.sideOpen = !PHONE.matches;
    this.root = document.getElementById('app') || document.body.appendChild(h('main', { id: 'app' }));
    this.build();
  }

  get phone() {
    return PHONE.matches;
  }

  build() {
    const app = this.app;
    this.statusDot = h('span', { class: 'status-dot', 'aria-hidden': 'true' });
    this.statusText = h('span', { class: 'status-text', id: 'status-text' });
    this.acceptBtn = h('button', { class: 'btn btn-accept btn-small', type: 'button', dataset: { action: 'accept' } }, icon('phone'), h('span', { text: t('Accept') }));
    this.rejectBtn = h('button', { class: 'btn btn-reject btn-small', type: 'button', dataset: { action: 'reject' } }, icon('hangup'), h('span', { text: t('Reject') }));
    this.hangupBtn = h('button', { class: 'btn btn-reject btn-small', type: 'button', dataset: { action: 'hangup' } }, icon('hangup'), h('span', { text: t('Hang up') }));
    this.retryBtn = h('button', { class: 'btn btn-small', type: 'button', dataset: { action: 'reconnect' }, text: t('Reconnect now') });
    this.acceptBtn.addEventListener('click', () => app.acceptRinging());
    this.rejectBtn.addEventListener('click', () => app.rejectRinging());
    this.hangupBtn.addEventListener('click', () => app.calls.hangup());
    this.retryBtn.addEventListener('click', () => app.channel.reconnectNow());
    this.status = h('div', { class: 'status', id: 'status', dataset: { state: 'initializing' } },
      this.statusDot, this.statusText,
      h('span', { class: 'status-actions' }, this.acceptBtn, this.rejectBtn, this.hangupBtn));

    this.micBtn = iconButton('mic', t('Mute microphone'), 'tool-mic');
    this.camBtn = iconButton('cam', t('Turn camera off'), 'tool-cam');
    this.screenBtn = iconButton('screen', t('Share your screen'), 'tool-screen');
    this.screenBtn.addEventListener('click', () => app.toggleScreenShare());
    this.fullBtn = iconButton('fullscreen', t('Fullscreen'), 'tool-fullscreen');
    this.peopleBtn = iconButton('users', t('People'), 'tool-people');
    this.peopleCount = h('span', { class: 'badge badge-muted', hidden: true });
    this.peopleBtn.append(this.peopleCount);
    this.chatBtn = iconButton('chat', t('Chat'), 'tool-chat');
    this.chatBadge = h('span', { class: 'badge', hidden: true });
    this.chatBtn.append(this.chatBadge);
    this.settingsBtn = iconButton('settings', t('Settings'), 'tool-settings');
    this.micBtn.addEventListener('click', () => app.media.setAudioMuted(!app.media.audioMuted));
    this.camBtn.addEventListener('click', () => app.media.setVideoMuted(!app.media.videoMuted));
    this.fullBtn.addEventListener('click', () => app.stage.toggleFullscreen(document.documentElement));
    this.peopleBtn.addEventListener('click', () => this.toggleSide('people'));
    this.chatBtn.addEventListener('click', () => this.toggleSide('chat'));
    this.settingsBtn.addEventListener('click', () => app.openSettings());

    const brand = h('a', { class: 'brand', href: cfg.B || './', title: cfg.Title || 'Spreed WebRTC' },
      logo(), h('span', { class: 'brand-title', text: cfg.Title || 'Spreed WebRTC' }));
    brand.addEventListener('click', (ev) => ev.preventDefault());
    this.topbar = h('header', { class: 'topbar' }, brand, this.status,
      h('nav', { class: 'tools', 'aria-label': t('Tools') }, this.micBtn, this.camBtn, this.screenBtn, this.fullBtn, this.peopleBtn, this.chatBtn, this.settingsBtn));

    this.bannerText = h('span', { class: 'banner-text' });
    this.banner = h('div', { class: 'banner', role: 'alert', hidden: true }, icon('warning'), this.bannerText, this.retryBtn);

    this.noticeText = h('span', { class: 'notice-text' });
    this.noticeRetry = h('button', { class: 'btn btn-small', type: 'button', text: t('Try again') });
    this.noticeClose = h('button', { class: 'icon-btn', type: 'button', title: t('Dismiss'), 'aria-label': t('Dismiss') }, icon('close'));
    this.noticeRetry.addEventListener('click', () => app.media.retry());
    this.noticeClose.addEventListener('click', () => show(this.notice, false));
    this.notice = h('div', { class: 'notice media-notice', role: 'alert', hidden: true }, icon('camOff'), this.noticeText, this.noticeRetry, this.noticeClose);

    this.roombarSlot = h('div', { class: 'roombar-slot' });
    this.stageSlot = h('section', { class: 'stage', 'aria-label': t('Video') });
    this.peopleTab = h('button', { class: 'side-tab', type: 'button', role: 'tab', dataset: { tab: 'people' } }, icon('users'), h('span', { text: t('People') }));
    this.chatTab = h('button', { class: 'side-tab', type: 'button', role: 'tab', dataset: { tab: 'chat' } }, icon('chat'), h('span', { text: t('Chat') }));
    this.chatTabBadge = h('span', { class: 'badge', hidden: true });
    this.chatTab.append(this.chatTabBadge);
    this.peopleTab.addEventListener('click', () => this.openSide('people'));
    this.chatTab.addEventListener('click', () => this.openSide('chat'));
    const closeSide = iconButton('close', t('Close panel'), 'side-close');
    closeSide.addEventListener('click', () => this.closeSide());
    this.peopleSlot = h('div', { class: 'side-pane side-people', role: 'tabpanel' });
    this.chatSlot = h('div', { class: 'side-pane side-chat', role: 'tabpanel' });
    this.side = h('aside', { class: 'side', 'aria-label': t('People and chat') },
      h('div', { class: 'side-tabs', role: 'tablist' }, this.peopleTab, this.chatTab, closeSide),
      this.peopleSlot, this.chatSlot);
    this.workspace = h('div', { class: 'workspace' }, this.stageSlot, this.side);

    clear(this.root);
    this.root.append(this.topbar, this.banner, this.notice, this.roombarSlot, this.workspace);
    this.renderSide();
    PHONE.addEventListener('change', () => this.renderSide());
  }

  // ------------------------------------------------------------ side panel

  openSide(tab) {
    this.sideTab = tab;
    this.sideOpen = true;
    this.renderSide();
  }

  closeSide() {
    this.sideOpen = false;
    this.renderSide();
  }

  toggleSide(tab) {
    if (this.sideOpen && this.sideTab === tab) this.closeSide();
    else this.openSide(tab);
  }

  renderSide() {
    this.root.classList.toggle('side-open', this.sideOpen);
    this.side.dataset.tab = this.sideTab;
    this.peopleTab.setAttribute('aria-selected', String(this.sideTab === 'people'));
    this.chatTab.setAttribute('aria-selected', String(this.sideTab === 'chat'));
    this.peopleBtn.classList.toggle('active', this.sideOpen && this.sideTab === 'people');
    this.chatBtn.classList.toggle('active', this.sideOpen && this.sideTab === 'chat');
    show(this.peopleSlot, this.sideTab === 'people');
    show(this.chatSlot, this.sideTab === 'chat');
    this.app.emitUI('side', { open: this.sideOpen, tab: this.sideTab });
  }

  /** Is the chat pane on screen? */
  chatVisible() {
    return this.sideOpen && this.sideTab === 'chat';
  }

  setCounts({ people, unread }) {
    setText(this.peopleCount, people ? String(people) : '');
    show(this.peopleCount, people > 0);
    const u = unread > 99 ? '99+' : String(unread);
    setText(this.chatBadge, u);
    show(this.chatBadge, unread > 0);
    setText(this.chatTabBadge, u);
    show(this.chatTabBadge, unread > 0);
  }

  // ------------------------------------------------------------ status line

  setStatus(state, text, { accept = false, reject = false, hangup = false } = {}) {
    this.status.dataset.state = state;
    setText(this.statusText, text);
    this.status.title = text;
    show(this.acceptBtn, accept);
    show(this.rejectBtn, reject);
    show(this.hangupBtn, hangup);
    document.body.dataset.callState = state;
  }

  setMediaButtons({ visible, audioMuted, videoMuted, hasAudio, hasVideo, inCall, screen = null }) {
    show(this.screenBtn, !!screen && screen.available);
    if (screen) {
      const label = screen.active ? t('Stop sharing your screen') : t('Share your screen');
      this.screenBtn.title = label;
      this.screenBtn.setAttribute('aria-label', label);
      this.screenBtn.setAttribute('aria-pressed', String(screen.active));
      this.screenBtn.classList.toggle('active', screen.active);
      this.screenBtn.disabled = !!screen.starting;
    }
    show(this.micBtn, visible && hasAudio);
    show(this.camBtn, visible && hasVideo);
    show(this.fullBtn, inCall);
    this.micBtn.classList.toggle('off', audioMuted);
    this.camBtn.classList.toggle('off', videoMuted);
    const micLabel = audioMuted ? t('Unmute microphone') : t('Mute microphone');
    const camLabel = videoMuted ? t('Turn camera on') : t('Turn camera off');
    this.micBtn.title = micLabel;
    this.micBtn.setAttribute('aria-label', micLabel);
    this.micBtn.setAttribute('aria-pressed', String(audioMuted));
    this.camBtn.title = camLabel;
    this.camBtn.setAttribute('aria-label', camLabel);
    this.camBtn.setAttribute('aria-pressed', String(videoMuted));
    this.micBtn.replaceChild(icon(audioMuted ? 'micOff' : 'mic'), this.micBtn.firstChild);
    this.camBtn.replaceChild(icon(videoMuted ? 'camOff' : 'cam'), this.camBtn.firstChild);
  }

  // ------------------------------------------------------------ banners

  setBanner(text) {
    setText(this.bannerText, text || '');
    show(this.banner, !!text);
  }

  setMediaNotice(text, { retry = true } = {}) {
    setText(this.noticeText, text || '');
    show(this.noticeRetry, retry);
    show(this.notice, !!text);
  }
}
