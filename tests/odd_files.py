"""Odd files real photo folders hold, generated (never committed photos)."""

from __future__ import annotations


def heic_bytes() -> bytes:
    """The start of an iPhone HEIC file: an ISO BMFF `ftyp` box with the heic/mif1 brands, then `meta`.

    Enough for anything that identifies a file by its signature, as TF Serving's clients,
    `prepare` and the web upload do; not a decodable picture (nothing here decodes HEIC).
    """
    ftyp = b"ftypheic" + b"\x00\x00\x00\x00" + b"mif1heicmiaf"
    return len(ftyp + b"\0\0\0\0").to_bytes(4, "big") + ftyp + b"\x00\x00\x00\x2cmeta" + bytes(40)
