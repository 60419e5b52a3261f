"""Draws the app icons (static/img/icon-*.png, favicon.ico) with Pillow.

The drawing is the client's logo (static/img/icon.svg): a speech bubble holding a camera lens, here
white on the accent green. Run from the repository root: python tests/browser/tools/make_icons.py
"""
from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "static" / "img"
GREEN = (31, 138, 112, 255)
WHITE = (255, 255, 255, 255)
SUPER = 4  # draw larger, then scale down for smooth edges


def logo(draw: ImageDraw.ImageDraw, x0: float, y0: float, unit: float) -> None:
    """The 32x32 logo at (x0, y0) with `unit` pixels per logo unit: white bubble, green lens."""
    def p(x: float, y: float) -> tuple[float, float]:
        return (x0 + x * unit, y0 + y * unit)

    draw.rounded_rectangle([p(2, 4), p(30, 24)], radius=4 * unit, fill=WHITE)
    draw.polygon([p(14, 23.5), p(7, 29), p(7, 23.5)], fill=WHITE)
    cx, cy = p(16, 14)
    r_out, r_in, dot = 7.1 * unit, 4.9 * unit, 2.4 * unit
    draw.ellipse([cx - r_out, cy - r_out, cx + r_out, cy + r_out], fill=GREEN)
    draw.ellipse([cx - r_in, cy - r_in, cx + r_in, cy + r_in], fill=WHITE)
    draw.ellipse([cx - dot, cy - dot, cx + dot, cy + dot], fill=GREEN)


def icon(size: int, *, rounded: bool, content: float) -> Image.Image:
    """A square icon; `content` is the share of the side the logo's 32 units take."""
    big = size * SUPER
    img = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    if rounded:
        draw.rounded_rectangle([0, 0, big - 1, big - 1], radius=big * 0.22, fill=GREEN)
    else:
        draw.rectangle([0, 0, big, big], fill=GREEN)
    unit = big * content / 32
    # the logo's drawing spans y 4..29: centre that span
    x0 = (big - 32 * unit) / 2
    y0 = (big - 25 * unit) / 2 - 4 * unit
    logo(draw, x0, y0, unit)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    icon(192, rounded=True, content=0.74).save(OUT / "icon-192.png", optimize=True)
    icon(512, rounded=True, content=0.74).save(OUT / "icon-512.png", optimize=True)
    # maskable: full bleed, the logo inside the central safe circle (80 % of the side)
    icon(512, rounded=False, content=0.58).save(OUT / "icon-maskable-512.png", optimize=True)
    # iOS rounds the corners itself and wants no transparency
    icon(180, rounded=False, content=0.66).convert("RGB").save(OUT / "icon-180.png", optimize=True)
    fav = icon(64, rounded=True, content=0.8)
    fav.save(OUT / "favicon.ico", sizes=[(16, 16), (32, 32), (48, 48), (64, 64)])


if __name__ == "__main__":
    main()
