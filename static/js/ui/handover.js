// A tile's picture moving to another connection: while a room switches between mesh and SFU, a peer's
// camera arrives over a new connection, and a <video> given a new stream shows nothing until that
// stream's first frame. So the new stream plays in a second, unseen and muted element, and takes the
// old element's place at its first frame: the old picture stays up until then, with no black gap.

/** How long the old picture waits for the new one (a stream that never brings a frame still wins). */
const HANDOVER_WAIT = 3000;

/**
 * Show `stream` in the tile. `makeVideo()` makes a <video> wired like the tile's own, `start(video)`
 * plays one (sound and speaker choice included), `swapped()` runs once the tile shows the new one.
 */
export function handOver(tile, stream, makeVideo, start, swapped) {
  cancelHandover(tile);
  const old = tile.video;
  const hasPicture = !!old.srcObject && old.videoWidth > 0 && !tile.el.classList.contains('novideo');
  if (!stream || !hasPicture || !stream.getVideoTracks().length) {
    old.srcObject = stream;
    if (stream) start(old);
    return;
  }
  const next = makeVideo();
  next.classList.add('standby');
  next.muted = true;
  next.srcObject = stream;
  old.after(next);
  const swap = () => {
    if (tile.standby !== next) return;
    cancelHandover(tile, false);
    old.srcObject = null;
    old.remove();
    next.classList.remove('standby');
    next.muted = old.muted;
    tile.video = next;
    start(next);
    swapped();
  };
  tile.standby = next;
  tile.standbyTimer = setTimeout(swap, HANDOVER_WAIT);
  next.addEventListener('loadeddata', swap, { once: true });
  next.play().catch(() => {});
}

/** Drop a handover in progress (a newer stream came, or the tile goes); `remove` the unseen element. */
export function cancelHandover(tile, remove = true) {
  const next = tile.standby;
  if (!next) return;
  clearTimeout(tile.standbyTimer);
  tile.standby = null;
  if (remove) {
    next.srcObject = null;
    next.remove();
  }
}
