"""`deeperfour weights download`: fetch a published checkpoint, check it, and import it as `weights import` does.

The file grows as `<store>/downloads/<file>.part`; an interrupted download resumes from there (HTTP Range). Only a
file of the known size and sha256 is renamed to its real name and imported; one that differs is deleted and
refused. Nothing here runs unless the user asks for the download: no other code path reaches the network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from deeperfour import __version__
from deeperfour.errors import WeightsError
from deeperfour.models.catalog import SOURCES, STYLES, Source

BLOCK = 1 << 20


def source_for(model: str) -> Source:
    """The published checkpoint of `model` (deoldify-artistic, deoldify-stable, deoldify-video, cartoongan:STYLE)."""
    name, _, style = model.lower().partition(":")
    if name == "cartoongan" and not style:
        raise WeightsError(f"say which CartoonGAN style to download: cartoongan:{'|'.join(STYLES)}")
    key = f"{name}:{style}" if style else name
    if key not in SOURCES:
        raise WeightsError(f"nothing published to download for {model!r}; choose one of {', '.join(SOURCES)}")
    return SOURCES[key]


class _Unreachable(Exception):
    """This address gave nothing usable (refused, unknown host, HTTP error): the next one may."""


def download(
    source: Source,
    store: Path,
    *,
    urls: list[str] | None = None,
    quiet: bool = False,
    keep: bool = False,
    timeout: float = 30.0,
) -> Path:
    """Download, verify and import `source` into `store`; returns the written .safetensors path."""
    from deeperfour.models.weights import import_checkpoint

    folder = Path(store) / "downloads"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WeightsError(f"cannot create {folder}: {e.strerror}") from None
    part, final = folder / f"{source.filename}.part", folder / source.filename
    failures = []
    for url in urls or source.urls:
        try:
            _fetch(url, part, source, quiet=quiet, timeout=timeout)
            break
        except _Unreachable as e:
            failures.append(f"{urlsplit(url).netloc or url}: {e}")
    else:
        raise WeightsError(
            f"cannot download {source.model} ({'; '.join(failures)}); offline? get {source.filename} another way and "
            f"run `deeperfour weights import FILE --model {source.model}`, or give a mirror with --url"
        )
    _verify(part, source)
    os.replace(part, final)
    provenance = {
        "source": url,
        "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source_size": str(final.stat().st_size),
        "sha256_check": f"matched the hash published by {source.pinned_by}"
        if source.sha256
        else "no published hash: recorded as computed",
    }
    try:
        target, _, _ = import_checkpoint(final, source.model, store, provenance=provenance)
    finally:
        if not keep:
            final.unlink(missing_ok=True)
    return target


def _fetch(url: str, part: Path, source: Source, *, quiet: bool, timeout: float) -> None:
    """Append the rest of the file at `url` to `part`; a complete `part` is left alone."""
    from tqdm import tqdm

    have = part.stat().st_size if part.exists() else 0
    if source.size is not None and have > source.size:
        part.unlink()
        have = 0
    if source.size is not None and have == source.size:
        return
    headers = {"User-Agent": f"deeperfour/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left after what we have: the file is complete (checked next)
            return
        raise _Unreachable(f"HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise _Unreachable(_reason(e.reason)) from None
    except (OSError, http.client.HTTPException) as e:
        raise _Unreachable(_reason(e)) from None
    with response:
        if response.status == 206:
            start, total = _content_range(response.headers.get("Content-Range", ""))
            if start != have:
                raise _Unreachable(f"the server resumed at byte {start}, not {have}")
        else:  # 200: the server ignored the range; start over
            have, start = 0, 0
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
        if source.size is not None and total is not None and total != source.size:
            raise WeightsError(
                f"refused {url}: it is {total:,} bytes, but {source.filename} is {source.size:,} "
                f"(as published by {source.pinned_by})"
            )
        bar = tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024, desc=source.filename, disable=quiet
        )
        got = have
        try:
            with open(part, "ab" if have else "wb") as f:
                while block := response.read(BLOCK):
                    f.write(block)
                    got += len(block)
                    bar.update(len(block))
                f.flush()
                os.fsync(f.fileno())
        except (OSError, http.client.HTTPException) as e:
            of = f" of {total:,}" if total else ""
            raise WeightsError(
                f"download of {source.filename} interrupted after {got:,}{of} bytes ({_reason(e)}); "
                "run the same command again to resume"
            ) from None
        finally:
            bar.close()
        if total is not None and got < total:
            raise WeightsError(
                f"download of {source.filename} interrupted after {got:,} of {total:,} bytes (the server closed the "
                "connection); run the same command again to resume"
            )


def _verify(part: Path, source: Source) -> str:
    """sha256 of the downloaded file; a file of another size or hash than the published one is deleted and refused."""
    size = part.stat().st_size
    if source.size is not None and size != source.size:
        part.unlink()
        raise WeightsError(
            f"refused {source.filename}: {size:,} bytes, expected {source.size:,} "
            f"(as published by {source.pinned_by}); the download was deleted"
        )
    h = hashlib.sha256()
    with open(part, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    digest = h.hexdigest()
    if source.sha256 is not None and digest != source.sha256:
        part.unlink()
        raise WeightsError(
            f"refused {source.filename}: sha256 {digest[:16]}… is not the published {source.sha256[:16]}… "
            f"({source.pinned_by}); the download was deleted"
        )
    return digest


def _content_range(value: str) -> tuple[int, int | None]:
    """'bytes 100-199/200' -> (100, 200); an unknown total ('*') -> None."""
    found = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", value.strip())
    if not found:
        raise _Unreachable(f"unusable Content-Range {value!r}")
    return int(found.group(1)), None if found.group(2) == "*" else int(found.group(2))


def _reason(e: object) -> str:
    if isinstance(e, socket.gaierror):
        return "unknown host (no network or no DNS)"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(e, http.client.IncompleteRead):
        return "the connection closed early"
    text = getattr(e, "strerror", None) or str(e)
    return text or type(e).__name__
