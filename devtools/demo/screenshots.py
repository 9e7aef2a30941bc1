"""Screenshots for the demo's listings, drawn with Pillow at demo load (nothing downloaded):
a dashboard-like picture with the product's name, stored like an uploaded screenshot."""

from __future__ import annotations

import io
import secrets
import zlib
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from catalog.models import Screenshot, SolutionRevision
from catalog.screenshots import STORED_NAME_LENGTH, screenshot_dir

WIDTH, HEIGHT = 960, 540
CAPTIONS = ("运行看板：关键指标一屏可见", "明细与趋势：按班次和产线对比")


def dashboard_png(title: str, seed: int, variant: int) -> bytes:
    """A small PNG that looks like a dashboard: title bar, KPI tiles and a bar chart."""
    hue = seed % 5
    accent = [(13, 110, 253), (25, 135, 84), (111, 66, 193), (214, 51, 132), (253, 126, 20)][hue]
    image = Image.new("RGB", (WIDTH, HEIGHT), (246, 248, 250))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    small = ImageFont.load_default(size=18)
    draw.rectangle((0, 0, WIDTH, 64), fill=accent)
    draw.text((24, 16), title[:48], fill="white", font=font)
    for i in range(4):
        x = 24 + i * 232
        draw.rounded_rectangle(
            (x, 88, x + 212, 178), radius=10, fill="white", outline=(222, 226, 230)
        )
        value = (seed >> (i * 3)) % 90 + 10
        draw.text((x + 16, 100), f"KPI {i + 1}", fill=(108, 117, 125), font=small)
        draw.text((x + 16, 128), f"{value}.{(seed + i) % 10}%", fill=accent, font=font)
    draw.rounded_rectangle((24, 202, WIDTH - 24, HEIGHT - 24), radius=10, fill="white")
    bars = 12 if variant == 0 else 24
    span = (WIDTH - 96) / bars
    for i in range(bars):
        height = 40 + (seed * (i + 3) * (variant + 7)) % 220
        left = 48 + i * span
        draw.rectangle((left, HEIGHT - 48 - height, left + span * 0.6, HEIGHT - 48), fill=accent)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def add_demo_screenshots(revision: SolutionRevision, title: str, upload_folder: str | Path) -> None:
    """Two screenshots on a listing that has none (the demo's published revisions)."""
    if revision.screenshots:
        return
    folder = screenshot_dir(upload_folder)
    folder.mkdir(parents=True, exist_ok=True)
    seed = zlib.crc32(title.encode())
    for variant, caption in enumerate(CAPTIONS):
        data = dashboard_png(title, seed, variant)
        stored_name = f"{secrets.token_hex(STORED_NAME_LENGTH // 2)}.png"
        (folder / stored_name).write_bytes(data)
        revision.screenshots.append(
            Screenshot(
                position=variant,
                stored_name=stored_name,
                content_type="image/png",
                size_bytes=len(data),
                width=WIDTH,
                height=HEIGHT,
                caption=caption,
            )
        )
