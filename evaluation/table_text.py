"""The text of a table file (labels.csv) whatever a spreadsheet saved it as: UTF-16, UTF-8 with or without a BOM,
Mac Roman, Windows-1252."""

from __future__ import annotations

import codecs
import contextlib


def decode_table(raw: bytes) -> tuple[str, str]:
    """(text, the encoding assumed in words) of a labels file's bytes `raw`; the words are "" for Unicode (a UTF-16
    BOM, UTF-8), which is sure: any other is a guess, said so that a garbled class name is explained. Never raises:
    Latin-1 reads every byte."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16"), ""
    with contextlib.suppress(UnicodeDecodeError):
        return raw.decode("utf-8-sig"), ""
    if b"\r" in raw and b"\n" not in raw:  # classic Mac line ends: Excel for Mac's "CSV (Macintosh)", Mac Roman
        return raw.decode("mac_roman"), "Mac Roman (its lines end in CR alone, as Excel for Mac's 'CSV (Macintosh)')"
    with contextlib.suppress(UnicodeDecodeError):
        return raw.decode("cp1252"), "Windows-1252"
    return raw.decode("latin-1"), "Latin-1"  # every byte is a character: nothing is refused for its encoding
