// The chat card of a shared file: for the owner (who is fetching it, speed, stop, unshare) and for
// everyone else (download, progress, speed, time left, cancel, retry, save).

import { h, setText, show, clear } from '../dom.js';
import { icon } from '../icons.js';
import { t, N_, formatBytes, formatDuration } from '../i18n.js';

const ERRORS = {
  unshared: N_('%s no longer shares this file.'),
  stopped: N_('%s stopped the transfer.'),
  unavailable: N_('%s could not be reached. Files can only be fetched while their owner is online.'),
  connection: N_('The connection to %s was lost.'),
  corrupt: N_('The file arrived damaged. Please try again.'),
  storage: N_('The file could not be stored. Is there enough free space?'),
};

function button(label, iconName, kind, onClick) {
  return h('button', { class: `btn btn-small ${kind ? `btn-${kind}` : ''}`, type: 'button', on: { click: onClick } },
    iconName && icon(iconName), h('span', { text: label }));
}

function percent(fraction) {
  return `${Math.floor(Math.max(0, Math.min(1, fraction)) * 100)} %`;
}

export function fileCard(app, msg) {
  const info = msg.file;
  const own = !!msg.own;
  const kind = h('div', { class: 'file-kind', text: own ? t('You share a file:') : t('Incoming file:') });
  const name = h('div', { class: 'file-name', text: info.name, title: info.name });
  const meta = h('div', { class: 'file-meta', text: formatBytes(info.size) + (info.type ? ` · ${info.type}` : '') });
  const progress = h('progress', { class: 'file-progress', max: '1', value: '0', hidden: true, 'aria-label': t('Progress') });
  const status = h('div', { class: 'file-status', 'aria-live': 'polite' });
  const actions = h('div', { class: 'file-actions' });
  const el = h('div', { class: `file-card ${own ? 'file-own' : 'file-peer'}`, dataset: { token: info.id } },
    h('div', { class: 'file-icon' }, icon('file')),
    h('div', { class: 'file-main' }, kind, name, meta, progress, status, actions));
  const owner = () => app.buddies.name(msg.from);

  const renderOwn = () => {
    const share = app.files.shareOf(info.id);
    clear(actions);
    if (!share || share.unshared) {
      el.dataset.state = 'unshared';
      show(progress, false);
      setText(status, t('You no longer share this file.'));
      return;
    }
    const active = share.active;
    el.dataset.state = active.length ? 'sending' : 'shared';
    if (active.length) {
      const parts = active.map((x) => t('%s: %s', app.buddies.name(x.peerId), percent(x.sent.size / Math.max(1, share.info.chunks))));
      const speed = share.speed.rate > 0 ? ` · ${t('%s/s', formatBytes(share.speed.rate))}` : '';
      setText(status, `${t('Sending to %s', parts.join(', '))}${speed}`);
      const most = Math.max(...active.map((x) => x.sent.size));
      progress.value = most / Math.max(1, share.info.chunks);
      show(progress, true);
      actions.append(button(t('Stop sending'), 'stop', '', () => app.files.stopSending(info.id)));
    } else {
      show(progress, false);
      const done = share.completed.map((id) => app.buddies.name(id));
      setText(status, done.length ? t('Downloaded by %s.', done.join(', ')) : t('Others can download it while you are online.'));
    }
    actions.append(button(t('Unshare'), 'close', 'ghost', () => app.files.unshare(info.id)));
  };

  const renderPeer = () => {
    const d = app.files.downloadOf(info.id);
    const state = d ? d.state : 'idle';
    el.dataset.state = state;
    clear(actions);
    show(progress, state === 'running' || state === 'saving' || state === 'connecting');
    if (d) progress.value = d.progress;
    const start = () => app.files.download(msg.from, info);
    switch (state) {
      case 'connecting':
        setText(status, t('Connecting to %s…', owner()));
        actions.append(button(t('Cancel'), 'close', '', () => app.files.cancel(info.id)));
        break;
      case 'running': {
        const eta = d.eta;
        const bits = [percent(d.progress)];
        if (d.speed.rate > 0) bits.push(t('%s/s', formatBytes(d.speed.rate)));
        if (Number.isFinite(eta) && d.speed.rate > 0) bits.push(t('%s left', formatDuration(eta)));
        setText(status, bits.join(' · '));
        actions.append(button(t('Cancel'), 'close', '', () => app.files.cancel(info.id)));
        break;
      }
      case 'saving':
        setText(status, t('Finishing…'));
        break;
      case 'done':
        setText(status, t('Download complete.'));
        actions.append(button(t('Save'), 'download', 'primary', () => d.save()));
        break;
      case 'cancelled':
        setText(status, t('Download cancelled.'));
        actions.append(button(t('Download'), 'download', 'primary', start));
        break;
      case 'error':
        setText(status, t(ERRORS[d.error] || ERRORS.connection, owner()));
        actions.append(button(t('Retry'), 'refresh', 'primary', start));
        break;
      default:
        setText(status, '');
        actions.append(button(t('Download'), 'download', 'primary', start));
    }
  };

  const render = own ? renderOwn : renderPeer;
  render();
  const off = app.files.on(own ? 'share' : 'download', (token) => {
    if (!el.isConnected) {
      off();
      return;
    }
    if (token === info.id) render();
  });
  return el;
}
