"""Finding, hashing and loading images; one image is decoded at a time, never the whole folder."""

from __future__ import annotations

import base64
import hashlib
import inspect
import io
import os
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ictc.core.pixels import to_8bit, wide_colour

MAX_PIXELS = 100_000_000  # larger declared sizes are refused (decompression bombs); the default of ICTC_MAX_PIXELS
RAISE_LIMIT = "ICTC_MAX_PIXELS raises it"
BOMB_SIZE = re.compile(r"Image size \((\d+) pixels\)")  # the size in Pillow's DecompressionBombError
AS_IS = "ictc_as_is"  # load_rgb's mark (in img.info) of an image whose file shows exactly its pixels: its format
# Pillow registers these with a suffix, but can only identify them, not decode their pixels
IDENTIFY_ONLY = {"MPEG"}
# registered without an opener of their own: another format's opener reads them (MPO: JPEG's)
OPENED_AS = {"MPO": "JPEG"}
# Pillow plugins that register more formats when imported (pillow-heif needs its opener registered)
PLUGINS = {"pillow_heif": "register_heif_opener", "pillow_avif": None, "pillow_jxl": None}
_UNDECODABLE_BYTE = re.compile(r"\\x([89a-f][0-9a-f])")
class ImageError(Exception):
    """An image that cannot be used; the message names the reason."""


@dataclass(frozen=True)
class ImageRef:
    """One image of a run: its path and the hex SHA-256 of its file's bytes (sha256_of), by which steps cache its results."""

    path: str  # as given by the user (or as found under the folder they gave)
    sha256: str


@lru_cache(maxsize=1)
def image_suffixes() -> frozenset[str]:
    """The file suffixes (lower case, with the dot) of every format the installed Pillow, and the
    Pillow plugins installed beside it (PLUGINS), can decode: the formats Pillow registers an opener
    for, less stubs without a loader (HDF5, BUFR, GRIB, WMF off Windows) and IDENTIFY_ONLY.
    Source: PIL.Image.registered_extensions() and PIL.Image.OPEN."""
    import importlib

    from PIL import Image, ImageFile

    for module, register in PLUGINS.items():
        try:
            plugin = importlib.import_module(module)
        except ImportError:
            continue
        if register:
            getattr(plugin, register)()
    Image.init()
    suffixes = set()
    for suffix, name in Image.registered_extensions().items():  # {".jpg": "JPEG", ...}
        opener = Image.OPEN.get(OPENED_AS.get(name, name), (None,))[0]
        if opener is None or name in IDENTIFY_ONLY or (name == "EPS" and not _has_ghostscript()):
            continue
        if inspect.isclass(opener) and issubclass(opener, ImageFile.StubImageFile) and opener._handler is None:
            continue
        suffixes.add(suffix.lower())
    return frozenset(suffixes)


def _has_ghostscript() -> bool:
    """Pillow decodes EPS by running Ghostscript; without it an .eps file cannot be read."""
    from PIL import EpsImagePlugin

    return bool(EpsImagePlugin.has_ghostscript())


def is_image_name(name: str | Path) -> bool:
    """True when the file name's suffix is one of image_suffixes() (case ignored)."""
    return Path(name).suffix.lower() in image_suffixes()


def shown_path(path: str | Path) -> str:
    """A file system path as ictc shows and records it: valid UTF-8 text everywhere (state, checkpoints,
    results, report, traces). A byte that is not UTF-8 (a Latin-1 name such as b'caf\\xe9.png', which
    os.fsdecode carries as a lone surrogate) is written as the visible escape `\\xe9`; file_path() undoes it."""
    return shown_text(os.fspath(path))


def shown_text(text: str) -> str:
    """`text` (a path, or a message that quotes one) as valid UTF-8 text: each undecodable byte that
    os.fsdecode carried as a lone surrogate becomes `\\xNN`; any other lone surrogate `\\udNNN`."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def file_path(path: str | Path) -> str:
    """The path to open for a shown_path() text: the file itself when it exists under that name, else
    the name with each `\\xNN` escape (NN 80-ff) turned back into its original byte."""
    text = os.fspath(path)
    if "\\x" not in text or os.path.lexists(text):
        return text
    return _UNDECODABLE_BYTE.sub(lambda m: chr(0xDC00 + int(m.group(1), 16)), text)


def hash_or_reason(path: str) -> tuple[str | None, str | None]:
    """(sha256, None) for a readable file, (None, reason) otherwise; `path` in shown or file form."""
    try:
        return sha256_of(path), None
    except OSError as exc:
        return None, f"cannot read the file ({shown_text(str(exc.strerror or exc))})"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of the file's bytes; `path` in shown or file form. Raises OSError."""
    digest = hashlib.sha256()
    with open(file_path(path), "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_rgb(path: str | Path, max_side: int | None = None, max_pixels: int = MAX_PIXELS):
    """Decode upright 8-bit RGB (EXIF orientation applied, first frame of animations, high bit depths
    scaled by their real range: core/pixels.py), at most `max_side` pixels on a side.

    `path`: shown or file form (shown_path); `max_pixels`: the most pixels (width x height) a file may declare
    (settings.max_pixels, ICTC_MAX_PIXELS); raises ImageError naming the path and the reason."""
    from PIL import Image, ImageOps

    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow refuses twice this itself, before our own check below
    image_suffixes()  # the installed plugins register their formats before the first open
    shown, path = shown_path(path), file_path(path)
    if Path(path).is_file() and Path(path).stat().st_size == 0:
        raise ImageError(f"{shown}: empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # we check the size ourselves
            opened = Image.open(path)
        with opened:
            img: Image.Image = opened
            if img.width * img.height > max_pixels:  # checked before decoding: PIL only warns up to 2x
                raise ImageError(f"{shown}: image too large ({img.width}x{img.height} pixels declared, "
                                 f"limit {max_pixels:,}: {RAISE_LIMIT})")
            img.seek(0)
            deep = wide_colour(img, path)  # 16 bits per colour channel: Pillow's RGB keeps only the high byte
            # the file itself shows a model these pixels: 8-bit RGB PNG or JPEG, upright, one frame, no colour profile
            as_is = (opened.format in ("PNG", "JPEG") and opened.mode == "RGB" and deep is None
                     and not getattr(opened, "is_animated", False) and opened.getexif().get(0x0112, 1) == 1
                     and not opened.info.keys() & {"transparency", "icc_profile"})
            img = ImageOps.exif_transpose(img)
            if deep is not None:
                deep.info["exif"] = opened.info.get("exif", b"")
                img = ImageOps.exif_transpose(deep) if deep.info["exif"] else deep
            if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
                background = Image.new("RGB", img.size, (255, 255, 255))
                background.paste(img.convert("RGBA"), mask=img.convert("RGBA").split()[-1])
                img = background
            elif img.mode.startswith(("I", "F")):  # 16- and 32-bit integer or float samples
                img = to_8bit(img).convert("RGB")
            else:
                img = img.convert("RGB")
    except Image.DecompressionBombError as exc:
        # Pillow's own refusal (twice our limit) names its limit: only ours is said, with the file's value (the
        # reason had named both, "exceeds limit of 200000000 pixels ...; limit 100,000,000")
        declared = BOMB_SIZE.search(str(exc))
        value = f"{int(declared[1]):,} pixels declared" if declared else f"more than {2 * max_pixels:,} pixels declared"
        raise ImageError(f"{shown}: image too large ({value}, limit {max_pixels:,}: {RAISE_LIMIT})") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        why = shown_text(str(getattr(exc, "strerror", None) or exc))
        raise ImageError(f"{shown}: not a readable image ({why})") from exc
    if max_side and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    elif as_is:
        img.info[AS_IS] = opened.format
    return img


def data_uri_of(img, path: str | Path) -> str:
    """The data URI to send a model for `img`, decoded from `path` by load_rgb: the file's own bytes when they
    show exactly these pixels (load_rgb marks those), which skips an encode (~0.15 ms for a small PNG, a few ms
    for a JPEG photo) and keeps a JPEG's original quality; else (or if the file is gone since) `to_data_uri(img)`."""
    source = img.info.get(AS_IS)
    try:
        if source is None:
            return to_data_uri(img)
        with open(file_path(path), "rb") as handle:
            data = handle.read()
    except OSError:
        return to_data_uri(img)
    return f"data:image/{source.lower()};base64,{base64.b64encode(data).decode('ascii')}"


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
    """The RGB PIL image encoded in a base64 `data:` URI (as image_to_data_uri makes). Raises ValueError
    when `uri` has no comma or bad base64, PIL.UnidentifiedImageError when the bytes are no image."""
    from PIL import Image

    _, encoded = uri.split(",", 1)
    return Image.open(io.BytesIO(base64.b64decode(encoded))).convert("RGB")
