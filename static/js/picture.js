// Profile pictures: a square 128x128 JPEG data URL from a camera frame or an uploaded image.

export const PICTURE_SIZE = 128;
export const UPLOAD_MAX = 8 * 1024 * 1024;

/** Draw the centre square of a source (video, image or bitmap) into a 128x128 JPEG data URL. */
export function squareJPEG(source, width, height, quality = 0.85) {
  const side = Math.min(width, height);
  if (!side) throw new Error('empty image');
  const canvas = document.createElement('canvas');
  canvas.width = PICTURE_SIZE;
  canvas.height = PICTURE_SIZE;
  const ctx = canvas.getContext('2d');
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, (width - side) / 2, (height - side) / 2, side, side, 0, 0, PICTURE_SIZE, PICTURE_SIZE);
  return canvas.toDataURL('image/jpeg', quality);
}

/** The current frame of a playing video element. */
export function snapshot(video) {
  return squareJPEG(video, video.videoWidth, video.videoHeight);
}

/** An image file (as chosen in a file input) scaled and cropped to the picture size. */
export async function fromFile(file) {
  if (!file || !/^image\//.test(file.type)) throw new Error('not an image');
  if (file.size > UPLOAD_MAX) throw new Error('too large');
  if (typeof createImageBitmap === 'function') {
    const bitmap = await createImageBitmap(file);
    try {
      return squareJPEG(bitmap, bitmap.width, bitmap.height);
    } finally {
      bitmap.close();
    }
  }
  const url = URL.createObjectURL(file);
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    return squareJPEG(img, img.naturalWidth, img.naturalHeight);
  } finally {
    URL.revokeObjectURL(url);
  }
}
