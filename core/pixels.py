"""High bit depths to 8 bits by the range the data really use: 16- and 32-bit grey, float, 16-bit colour."""

from __future__ import annotations

from typing import Any

import numpy as np

# Pillow's 16-bit-per-channel raw modes, each with the one that reads the other byte of every sample
OTHER_BYTE = {"RGB;16B": "RGB;16L", "RGB;16L": "RGB;16B", "RGBA;16B": "RGBA;16L", "RGBA;16L": "RGBA;16B"}


def integer_range(high: float) -> float:
    """The nominal top of unsigned integer data whose largest value is `high`: the smallest common
    sensor depth (8, 10, 12, 14, 16 bits, else 32) that holds it. So 12-bit data in a 16-bit file
    (0..4095) fill 0..255, and a dark 16-bit photo stays dark."""
    return float(next((2**bits - 1 for bits in (8, 10, 12, 14, 16) if high <= 2**bits - 1), 2**32 - 1))


def to_8bit(img: Any) -> Any:
    """A one-channel image of 16- or 32-bit integer (modes I;16*, I) or float (F) samples, as 8-bit "L",
    scaled by the range its data really use rather than the container's:
    - unsigned integers: 0..integer_range(largest value);
    - floats: 0..1 as is (the usual convention), -1..1 shifted, any other range stretched min..max;
    negative integers (signed TIFFs) are stretched min..max too. NaN and infinities become 0."""
    from PIL import Image

    return Image.fromarray(_scaled(np.asarray(img, dtype=np.float64), img.mode == "F"), "L")


def _scaled(values: np.ndarray, floats: bool) -> np.ndarray:
    """uint8 samples of `values` (any shape) by the rule of to_8bit."""
    finite = values[np.isfinite(values)]
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if floats:
        if low >= 0 and high <= 1:
            low, high = 0.0, 1.0
        elif low >= -1 and high <= 1:
            low, high = -1.0, 1.0
    elif low >= 0:
        low, high = 0.0, integer_range(high)
    scale = 255.0 / (high - low) if high > low else 0.0
    scaled = np.nan_to_num((values - low) * scale, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def wide_colour(opened: Any, path: str) -> Any:
    """An RGB(A) image with 16 bits per channel (a 48- or 64-bit PNG) as 8-bit RGB(A), the colour
    channels scaled by their real range (integer_range; alpha keeps its full 16-bit range); None for
    any other image. Pillow decodes such files to 8 bits by keeping each sample's high byte, which
    leaves 12-bit data almost black; the low bytes are read here by decoding the file a second time
    with Pillow's raw mode for the other byte order. `opened`: the image of `path`, not yet loaded."""
    from PIL import Image

    tiles = getattr(opened, "tile", [])
    args: Any = tiles[0].args if len(tiles) == 1 else None  # PNG: the raw mode; TIFF: (raw mode, ...)
    rawmode = args[0] if isinstance(args, tuple) and args else args
    if opened.mode not in ("RGB", "RGBA") or rawmode not in OTHER_BYTE:
        return None
    swapped = OTHER_BYTE[rawmode]
    with Image.open(path) as other:
        tile = other.tile[0]
        other.tile = [tile._replace(args=swapped if isinstance(args, str) else (swapped, *args[1:]))]
        low = np.asarray(other.convert(opened.mode), dtype=np.uint16)
    high = np.asarray(opened.convert(opened.mode), dtype=np.uint16)
    if rawmode.endswith("L"):  # little-endian samples: the second decode read the high bytes
        high, low = low, high
    samples = high * 256 + low
    colour = _scaled(samples[..., :3].astype(np.float64), floats=False)
    if opened.mode == "RGBA":
        alpha = np.rint(samples[..., 3:] / 257).astype(np.uint8)
        return Image.fromarray(np.concatenate([colour, alpha], axis=-1), "RGBA")
    return Image.fromarray(colour, "RGB")
