"""Finding, hashing and loading images; one image is decoded at a time, never the whole folder."""

from __future__ import annotations

import base64
import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

from ictc.core.errors import UsageError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
MAX_PIXELS = 100_000_000  # larger declared sizes are refused (decompression bombs)


class ImageError(Exception):
    """An image that cannot be used; the message names the reason."""


@dataclass(frozen=True)
class ImageRef:
    path: str  # as given by the user (or as found under the folder they gave)
    sha256: str


def list_images(source: str | Path | list[str]) -> list[str]:
    """A folder (searched recursively, sorted) or an explicit list of paths."""
    if isinstance(source, list | tuple):
        return [str(p) for p in source]
    folder = Path(source)
    if not folder.exists():
        raise UsageError(f"image folder not found: {folder}")
    if folder.is_file():
        return [str(folder)]
    # broken and looping symlinks are kept, so that they are reported as failed rather than vanish
    found = [p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and (p.is_file() or p.is_symlink())]
    return sorted(str(p) for p in found)


def hash_or_reason(path: str) -> tuple[str | None, str | None]:
    """(sha256, None) for a readable file, (None, reason) otherwise."""
    try:
        return sha256_of(path), None
    except OSError as exc:
        return None, f"cannot read the file ({exc.strerror or exc})"


def sha256_of(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_rgb(path: str | Path, max_side: int | None = None):
    """Decode upright RGB (EXIF orientation applied, first frame of animations), downscaled."""
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise ImageError(f"{path}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            opened = Image.open(path)
        with opened:
            img: Image.Image = opened
            if img.width * img.height > MAX_PIXELS:  # checked before decoding: PIL only warns up to 2x
                raise ImageError(f"{path}: image too large ({img.width}x{img.height} pixels declared, "
                                 f"limit {MAX_PIXELS:,})")
            img.seek(0)
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                background = Image.new("RGB", img.size, (255, 255, 255))
                background.paste(img.convert("RGBA"), mask=img.convert("RGBA").split()[-1])
                img = background
            elif img.mode == "I;16" or img.mode.startswith("I"):
                img = img.point(lambda v: v / 256).convert("L").convert("RGB")
            else:
                img = img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise ImageError(f"{path}: image too large ({exc})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{path}: not a readable image ({getattr(exc, 'strerror', None) or exc})") from exc
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


def to_data_uri(img) -> str:
    """JPEG for photos (small payload); PNG for tiny images where JPEG artefacts would dominate."""
    buffer = io.BytesIO()
    if max(img.size) <= 64:
        img.save(buffer, format="PNG")
        mime = "image/png"
    else:
        img.save(buffer, format="JPEG", quality=90)
        mime = "image/jpeg"
    return f"data:{mime};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def data_uri_to_image(uri: str):
    from PIL import Image

    _, encoded = uri.split(",", 1)
    return Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB")
