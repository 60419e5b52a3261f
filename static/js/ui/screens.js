// Screens that call partners share with us, shown large on the stage with fit/fill and fullscreen,
// and the "you are sharing your screen" bar for our own share.

import { h, setText, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t } from '../i18n.js';

export class ScreenViews {
  constructor(app, stage) {
    this.app = app;
    this.stage = stage;
    this.items = new Map(); // peerId -> {el, video, stream}
    this.el = h('div', { class: 'screens', hidden: true, 'aria-label': t('Shared screens') });
    const stop = h('button', { class: 'btn btn-small btn-reject', type: 'button' }, icon('stop'), h('span', { text: t('Stop sharing') }));
    stop.addEventListener('click', () => app.screenshare.stop());
    this.ownBar = h('div', { class: 'sharing-bar', role: 'status', hidden: true },
      icon('screen'), h('span', { text: t('You are sharing your screen.') }), stop);
    app.screenshare.on('views', () => this.render());
    app.screenshare.on('change', () => this.render());
  }

  render() {
    const views = this.app.screenshare.views;
    for (const [peerId, item] of this.items) {
      const view = views.get(peerId);
      if (!view || view.stream !== item.stream) {
        item.video.srcObject = null;
        item.el.remove();
        this.items.delete(peerId);
      }
    }
    for (const view of views.values()) {
      let item = this.items.get(view.peerId);
      if (!item) {
        item = this.make(view);
        this.items.set(view.peerId, item);
        this.el.append(item.el);
      }
      setText(item.name, t('Screen of %s', this.app.buddies.name(view.peerId)));
      this.updateVideo(item);
    }
    show(this.el, this.items.size > 0);
    this.el.dataset.count = String(this.items.size);
    show(this.ownBar, this.app.screenshare.sharing);
    this.stage.callArea.classList.toggle('has-screen', this.items.size > 0);
    this.stage.layout();
  }

  make(view) {
    const video = h('video', { class: 'screen-video', autoplay: true, playsInline: true, muted: true });
    video.setAttribute('playsinline', '');
    video.srcObject = view.stream;
    const name = h('span', { class: 'screen-name' });
    const waiting = h('div', { class: 'screen-waiting' }, icon('screen'), h('span', { text: t('Connecting to the shared screen…') }));
    const fit = h('button', { class: 'icon-btn screen-fit', type: 'button', title: t('Fill the area'), 'aria-label': t('Fill the area'), 'aria-pressed': 'false' }, icon('fit'));
    const full = h('button', { class: 'icon-btn screen-full', type: 'button', title: t('Fullscreen'), 'aria-label': t('Fullscreen') }, icon('fullscreen'));
    const close = h('button', { class: 'icon-btn screen-close', type: 'button', title: t('Close'), 'aria-label': t('Close') }, icon('close'));
    const el = h('div', { class: 'screen-view', dataset: { peer: view.peerId }, tabindex: '-1' },
      video, waiting, h('div', { class: 'screen-bar' }, icon('screen'), name, fit, full, close));
    const item = { el, video, name, stream: view.stream, waiting };
    fit.addEventListener('click', () => {
      const fill = el.classList.toggle('fill');
      fit.setAttribute('aria-pressed', String(fill));
    });
    full.addEventListener('click', () => this.stage.toggleFullscreen(el));
    close.addEventListener('click', () => this.app.screenshare.closeView(view.peerId));
    video.addEventListener('dblclick', () => this.stage.toggleFullscreen(el));
    for (const ev of ['resize', 'loadeddata', 'playing']) video.addEventListener(ev, () => this.updateVideo(item));
    video.play().catch(() => {});
    return item;
  }

  updateVideo(item) {
    const live = item.video.videoWidth > 0;
    show(item.waiting, !live);
    item.el.classList.toggle('live', live);
  }

  clear() {
    clear(this.el);
    this.items.clear();
  }
}
