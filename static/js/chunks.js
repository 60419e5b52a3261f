// The file chunk codec of web-client.md 3.6. A chunk on the wire is a 12-byte header and the payload:
// byte 0 version (0), bytes 1-3 reserved (0), bytes 4-7 chunk index, bytes 8-11 CRC-32 (IEEE, as
// zlib.crc32) of the payload. The original wrote the integers through a Uint32Array, so they are in
// the platform's byte order, which is little-endian on every browser platform; we write
// little-endian explicitly.

export const CHUNK_VERSION = 0;
export const HEADER_SIZE = 12;
export const CHUNK_SIZE = 60000;

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of bytes (Uint8Array, ArrayBuffer or a view), unsigned, same as Python's zlib.crc32. */
export function crc32(data, previous = 0) {
  const bytes = data instanceof Uint8Array ? data : ArrayBuffer.isView(data)
    ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : new Uint8Array(data);
  let crc = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < bytes.length; i++) crc = TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Header and payload in one ArrayBuffer, ready for the data channel. */
export function encodeChunk(index, payload) {
  const bytes = payload instanceof Uint8Array ? payload : new Uint8Array(payload);
  const out = new Uint8Array(HEADER_SIZE + bytes.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, CHUNK_VERSION);
  view.setUint32(4, index >>> 0, true);
  view.setUint32(8, crc32(bytes), true);
  out.set(bytes, HEADER_SIZE);
  return out.buffer;
}

export class ChunkError extends Error {
  constructor(kind, message) {
    super(message);
    this.kind = kind; // short, header, version, crc
  }
}

/** {index, crc, payload: Uint8Array} of a received chunk; throws ChunkError when it is not valid. */
export function decodeChunk(buffer) {
  if (!(buffer instanceof ArrayBuffer) || buffer.byteLength < HEADER_SIZE) throw new ChunkError('short', 'chunk too short');
  const view = new DataView(buffer);
  const version = view.getUint8(0);
  if (version !== CHUNK_VERSION) throw new ChunkError('version', `unsupported chunk version ${version}`);
  const index = view.getUint32(4, true);
  const crc = view.getUint32(8, true);
  const payload = new Uint8Array(buffer, HEADER_SIZE);
  if (crc32(payload) !== crc) throw new ChunkError('crc', `CRC mismatch in chunk ${index}`);
  return { index, crc, payload };
}

/** Number of chunks for a file size. */
export function chunkCount(size, chunkSize = CHUNK_SIZE) {
  return Math.ceil(size / chunkSize);
}
