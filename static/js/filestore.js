// Where downloaded chunks go. Large files must not sit in memory twice, so a download is written
// into the Origin Private File System when the browser can (Chrome, Edge, Firefox, recent Safari)
// and handed out as the File on disk; otherwise chunks become one Blob per group of chunks, which the
// browser may keep on disk, and the final Blob is built from those groups without copying.

const DIR = 'spreed-downloads';
export const GROUP = 101; // chunks per download job and per memory group

function opfsAvailable() {
  return !!(navigator.storage && typeof navigator.storage.getDirectory === 'function'
    && typeof FileSystemFileHandle !== 'undefined' && 'createWritable' in FileSystemFileHandle.prototype);
}

async function downloadsDir() {
  const root = await navigator.storage.getDirectory();
  return root.getDirectoryHandle(DIR, { create: true });
}

/** Writes chunk payloads at their offsets into an OPFS file. */
class DiskSink {
  constructor(dir, name, handle, writable) {
    this.kind = 'disk';
    this.dir = dir;
    this.name = name;
    this.handle = handle;
    this.writable = writable;
    this.queue = Promise.resolve();
    this.failed = null;
  }

  write(index, offset, payload) {
    this.queue = this.queue.then(() => this.writable.write({ type: 'write', position: offset, data: payload }))
      .catch((err) => {
        this.failed = this.failed || err;
        throw err;
      });
    return this.queue;
  }

  async finish(type) {
    await this.queue;
    await this.writable.close();
    const file = await this.handle.getFile();
    return type && file.type !== type ? new Blob([file], { type }) : file;
  }

  async abort() {
    try {
      await this.writable.abort();
    } catch {
      // already closed
    }
    await this.remove();
  }

  async remove() {
    try {
      await this.dir.removeEntry(this.name);
    } catch {
      // already gone
    }
  }
}

/** Keeps chunks in memory until their group is complete, then turns the group into a Blob. */
class MemorySink {
  constructor(chunks) {
    this.kind = 'memory';
    this.chunks = chunks;
    this.pending = new Map(); // group -> Map(index -> payload)
    this.groups = [];
  }

  write(index, offset, payload) {
    const g = Math.floor(index / GROUP);
    let group = this.pending.get(g);
    if (!group) {
      group = new Map();
      this.pending.set(g, group);
    }
    group.set(index, payload);
    const size = Math.min(GROUP, this.chunks - g * GROUP);
    if (group.size === size) {
      const parts = [];
      for (let i = g * GROUP; i < g * GROUP + size; i++) parts.push(group.get(i));
      this.groups[g] = new Blob(parts);
      this.pending.delete(g);
    }
    return Promise.resolve();
  }

  async finish(type) {
    if (this.pending.size) throw new Error('download incomplete');
    return new Blob(this.groups, { type: type || 'application/octet-stream' });
  }

  async abort() {
    this.pending.clear();
    this.groups = [];
  }

  async remove() {
    this.groups = [];
  }
}

/** A sink for one download: OPFS when possible (and not forbidden by `memory`), else memory. */
export async function createSink(token, chunks, { memory = false } = {}) {
  if (!memory && opfsAvailable()) {
    try {
      const dir = await downloadsDir();
      const name = `${Date.now().toString(36)}-${token.slice(0, 32)}`;
      const handle = await dir.getFileHandle(name, { create: true });
      const writable = await handle.createWritable({ keepExistingData: false });
      return new DiskSink(dir, name, handle, writable);
    } catch (err) {
      console.info('private file system not usable, keeping the download in memory', err);
    }
  }
  return new MemorySink(chunks);
}

/** Remove downloads that earlier visits left in the private file system (older than a day). */
export async function cleanupStore() {
  if (!opfsAvailable()) return;
  try {
    const dir = await downloadsDir();
    const limit = Date.now() - 24 * 3600 * 1000;
    for await (const name of dir.keys()) {
      const stamp = parseInt(name.split('-')[0], 36);
      if (!(stamp > limit)) await dir.removeEntry(name).catch(() => {});
    }
  } catch {
    // no private file system here
  }
}
