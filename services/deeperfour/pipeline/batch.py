"""Folders and lists: `deeperfour modernize IN... -o OUTDIR`.

Inputs are files, folders (searched recursively for films and photos; hidden files and folders are passed over) and
text files listing paths (.txt: one path a line, `#` starts a comment, relative paths count from the list's folder).
A folder's films and photos are written under OUTDIR at the same relative path; a file named directly or in a list
goes to OUTDIR itself. Films are written in --format (default: the input's container when DeeperFour writes it, else
mp4), photos in --photo-format (default: the input's format).

The manifest, OUTDIR/.deeperfour-manifest.json, records every finished output with its input (size, modification
time and a hash of its first, middle and last MiB), the options, the weights' sha256 and DeeperFour's version: a file
done before with the same of all these is skipped. One failure is reported and the batch goes on; at the end a table
(file, frames, time, fps, result), --report as JSON or CSV, and exit status 1 when any file failed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from deeperfour import __version__
from deeperfour.errors import DeeperFourError, OutputError

MANIFEST = ".deeperfour-manifest.json"
LIST_SUFFIX = ".txt"
FILM_SUFFIXES = {
    *(".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m2v", ".ts", ".m2ts", ".mts"),
    *(".wmv", ".flv", ".ogv", ".3gp", ".mxf", ".dv", ".vob", ".y4m", ".qt"),
}
PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp"}  # video/images.py FORMATS
FILM_OUTPUTS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")  # video/io.py CONTAINERS
SAMPLE = 1 << 20


@dataclass
class Item:
    input: Path
    output: Path
    kind: str  # film or photo
    shown: str  # the input as the table shows it
    result: str = "pending"
    error: str = ""
    summary: dict = field(default_factory=dict)

    def row(self) -> dict:
        s = self.summary
        return {
            "input": str(self.input),
            "output": str(self.output),
            "kind": self.kind,
            "frames": s.get("frames", ""),
            "seconds": s.get("seconds", ""),
            "fps": s.get("fps", ""),
            "result": self.result,
            "error": self.error,
        }


def is_batch(inputs: list[str], output: str) -> bool:
    """Several inputs, a folder, a list, or an output that is a folder (existing, or written with a trailing /)."""
    one = Path(inputs[0])
    return (
        len(inputs) > 1
        or one.is_dir()
        or one.suffix.lower() == LIST_SUFFIX
        or Path(output).is_dir()
        or output.endswith(os.sep)
    )


def suffix_option(value: str | None, allowed, flag: str) -> str | None:
    if not value:
        return None
    suffix = "." + value.lower().lstrip(".")
    if suffix not in allowed:
        raise DeeperFourError(f"{flag} {value}: use one of {', '.join(s.lstrip('.') for s in allowed)}")
    return suffix


@dataclass(frozen=True)
class Found:
    path: Path
    rel: Path  # its place in the mirrored tree (a file named directly: its name)
    problem: str = ""  # why it cannot be read (missing file, unreadable list)

    @property
    def kind(self) -> str:
        return "photo" if self.path.suffix.lower() in PHOTO_SUFFIXES else "film"


def find(inputs: list[str], skip: Path | None = None) -> list[Found]:
    """Every film and photo that files, folders (recursively; not `skip`, nor hidden entries) and lists name, in
    order."""
    found: list[Found] = []

    def walk(folder: Path) -> None:
        for root, dirs, files in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith(".") and Path(root, d).resolve() != skip)
            for name in sorted(files):
                path = Path(root, name)
                if not name.startswith(".") and path.suffix.lower() in FILM_SUFFIXES | PHOTO_SUFFIXES:
                    found.append(Found(path, path.relative_to(folder)))

    def take(name: str, base: Path | None) -> None:
        path = Path(name).expanduser()
        if base is not None and not path.is_absolute():
            path = base / path
        if path.is_dir():
            walk(path)
        elif path.suffix.lower() == LIST_SUFFIX and base is None:
            try:
                lines = path.read_text().splitlines()
            except (OSError, UnicodeDecodeError) as e:
                why = getattr(e, "strerror", None) or "not a text file"
                found.append(Found(path, Path(path.name), f"{path}: cannot be read as a list ({why})"))
                return
            for line in lines:
                if line.strip() and not line.strip().startswith("#"):
                    take(line.strip(), path.parent)
        else:
            found.append(Found(path, Path(path.name), "" if path.exists() else f"{path}: no such file"))

    for name in inputs:
        take(name, None)
    return found


def collect(inputs: list[str], outdir: Path, film_suffix: str | None, photo_suffix: str | None) -> list[Item]:
    """Every film and photo the inputs name, with its output path; inputs that cannot be read come back as failed
    items."""
    items = []
    for f in find(inputs, skip=outdir.resolve()):  # an output folder inside an input folder is not searched
        suffix = f.path.suffix.lower()
        new = photo_suffix if f.kind == "photo" else film_suffix
        new = new or (suffix if f.kind == "photo" or suffix in FILM_OUTPUTS else ".mp4")
        item = Item(f.path, outdir / f.rel.with_suffix(new), f.kind, str(f.path))
        if f.problem:
            item.result, item.error = "failed", f.problem
        items.append(item)
    _refuse_collisions(items)
    return items


def _refuse_collisions(items: list[Item]) -> None:
    """Two inputs written to one output (film.mp4 and film.mkv with --format mp4, or one file named twice)."""
    seen: dict[Path, Item] = {}
    for item in items:
        if item.result != "pending":
            continue
        first = seen.setdefault(item.output, item)
        if first is not item:
            item.result = "failed"
            item.error = f"{item.input}: its output {item.output} is also that of {first.input}; rename one of them"


# ---- the manifest ----


def input_identity(path: Path) -> dict:
    """Size, modification time and the sha256 of the size and of the first, middle and last MiB."""
    st = path.stat()
    h = hashlib.sha256(str(st.st_size).encode())
    with open(path, "rb") as f:
        for at in sorted({0, max(0, st.st_size // 2 - SAMPLE // 2), max(0, st.st_size - SAMPLE)}):
            f.seek(at)
            h.update(f.read(SAMPLE))
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sample_sha256": h.hexdigest()}


class Manifest:
    def __init__(self, outdir: Path):
        self.path = outdir / MANIFEST
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.entries: dict = data.get("outputs", {}) if isinstance(data, dict) else {}
        self.outdir = outdir

    def _key(self, item: Item) -> str:
        return str(item.output.relative_to(self.outdir))

    def done(self, item: Item, fingerprint: dict) -> bool:
        entry = self.entries.get(self._key(item))
        if not entry or entry.get("fingerprint") != fingerprint or not item.output.is_file():
            return False
        try:
            same = input_identity(item.input)
        except OSError:
            return False
        recorded = entry.get("input", {})
        return (same["size"], same["sample_sha256"]) == (recorded.get("size"), recorded.get("sample_sha256")) and (
            item.output.stat().st_size == entry.get("output_size")
        )

    def record(self, item: Item, fingerprint: dict, identity: dict) -> None:
        self.entries[self._key(item)] = {
            "input": {"path": str(item.input.resolve()), **identity},
            "fingerprint": fingerprint,
            "output_size": item.output.stat().st_size,
            "frames": item.summary.get("frames"),
            "seconds": item.summary.get("seconds"),
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"deeperfour": __version__, "outputs": self.entries}, indent=1) + "\n")
        os.replace(tmp, self.path)


def fingerprint(kind: str, options: dict, weights: dict[str, str]) -> dict:
    """What decides an output: DeeperFour's version, the options that apply to the kind, the weights' sha256."""
    film_only = ("codec", "crf", "encoder_preset", "pix_fmt", "start", "duration", "frames")
    chosen = {k: v for k, v in options.items() if kind == "film" or k not in film_only}
    return {"deeperfour": __version__, "kind": kind, "options": chosen, "weights": weights}


def weights_used(stages: list[str], presets: dict, weights: dict, style: str | None, allow_random: bool) -> dict:
    """stage -> sha256 of the weights file it will load ('random-init' when none is installed and that is allowed)."""
    from deeperfour.models.registry import get_preset
    from deeperfour.models.weights import file_sha256, installed_name, missing_message, resolve_weights

    found = {}
    for stage in dict.fromkeys(stages):
        preset = get_preset(stage, presets.get(stage, "lite"))
        path = resolve_weights(preset, weights.get(stage), style=style)
        if path is None and not allow_random:
            raise DeeperFourError(missing_message(installed_name(preset, style)))
        found[stage] = file_sha256(path) if path else "random-init"
    return found


# ---- the run ----


def run(
    inputs: list[str],
    outdir: str,
    modernize_options: dict,
    *,
    film_format: str | None = None,
    photo_format: str | None = None,
    report: str | None = None,
    dry_run: bool = False,
    options_shown: dict | None = None,
) -> int:
    """Process every film and photo of `inputs` into `outdir`; returns the exit status (1 when any file failed).
    `modernize_options`: keyword arguments of pipeline.embedded.modernize; `options_shown`: those that decide an
    output, for the manifest."""
    out = Path(outdir)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{outdir}: exists and is not a folder; several inputs need an output folder")
    film_suffix = suffix_option(film_format, FILM_OUTPUTS, "--format")
    photo_suffix = suffix_option(photo_format, tuple(PHOTO_SUFFIXES), "--photo-format")
    if report:
        _check_report(report)
    items = collect(inputs, out, film_suffix, photo_suffix)
    if not items:
        raise DeeperFourError(f"no film or photo found in {', '.join(inputs)}")
    o = modernize_options
    stages = list(o["stages"])
    used = weights_used(stages, o["preset"] or {}, o["weights"] or {}, o["style"], o["allow_random"])
    if not dry_run:
        out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest(out)
    prints = {k: fingerprint(k, options_shown or {}, used) for k in ("film", "photo")}
    if dry_run:
        for item in items:
            if item.result == "pending":
                item.result = "skip (done before)" if manifest.done(item, prints[item.kind]) else f"to do ({item.kind})"
        print(_table(items, dry_run=True))
        return 1 if any(i.result == "failed" for i in items) else 0
    return _process(items, manifest, prints, o, report)


def _process(items: list[Item], manifest: Manifest, prints: dict, o: dict, report: str | None) -> int:
    from tqdm import tqdm

    from deeperfour.pipeline.embedded import modernize
    from deeperfour.video.colour import AlreadyInColour

    models: dict = {}  # loaded once for the whole batch
    bar = tqdm(total=len(items), unit="file", desc="batch", disable=o["quiet"], file=sys.stderr, dynamic_ncols=True)
    try:
        for item in items:
            bar.set_postfix_str(item.input.name)
            if item.result == "pending" and manifest.done(item, prints[item.kind]):
                item.result = "skipped (done before)"
            elif item.result == "pending":
                _one(item, manifest, prints[item.kind], o, models, modernize, AlreadyInColour, bar)
            if item.result == "failed":
                bar.write(f"deeperfour: error: {item.error}", file=sys.stderr)
            bar.update(1)
    except KeyboardInterrupt as e:
        bar.close()
        current = next((i for i in items if i.result == "pending"), None)
        if current is not None:
            current.result = "interrupted"
        print(_table(items))
        _write_report(report, items)
        kept = getattr(e, "resume_hint", None)
        e.resume_hint = (  # type: ignore[attr-defined]
            f"{sum(i.result == 'done' for i in items)} file(s) done"
            + (f"; {current.input.name}: {kept}" if kept and current else "; run the same command again to go on")
            + " (finished files are skipped)"
        )
        raise
    bar.close()
    if not o["quiet"]:
        print(_table(items))
    _write_report(report, items)
    return 1 if any(i.result == "failed" for i in items) else 0


def _one(item: Item, manifest: Manifest, print_: dict, o: dict, models: dict, modernize, already, bar) -> None:
    try:
        identity = input_identity(item.input)
        item.output.parent.mkdir(parents=True, exist_ok=True)
        item.summary = modernize(item.input, item.output, **o, progress_position=1, models=models)
        item.result = "done"
        manifest.record(item, print_, identity)
    except already as e:
        item.result, item.error = "skipped (already in colour)", str(e)
    except DeeperFourError as e:
        item.result, item.error = "failed", str(e)
    except OSError as e:
        item.result, item.error = "failed", f"{item.input}: {e.strerror or e}"
    except Exception as e:  # a bug on one file must not end a night's batch: reported like a failure
        item.result, item.error = "failed", f"{item.input}: internal error: {type(e).__name__}: {e}"


# ---- the end: table and report ----


def _table(items: list[Item], dry_run: bool = False) -> str:
    rows: list[tuple[str, ...]]
    head: tuple[str, ...]
    if dry_run:
        rows = [(i.shown, str(i.output), i.error or i.result) for i in items]
        head = ("file", "output", "action")
    else:
        rows = [
            (
                i.shown,
                str(i.summary.get("frames", "")),
                _num(i.summary.get("seconds")),
                _num(i.summary.get("fps")),
                _result(i),
            )
            for i in items
        ]
        head = ("file", "frames", "time (s)", "fps", "result")
    widths = [max(len(str(r[k])) for r in [head, *rows]) for k in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    if not dry_run:
        counts: dict[str, int] = {}
        for i in items:
            counts[i.result.split(" (")[0]] = counts.get(i.result.split(" (")[0], 0) + 1
        lines.append(", ".join(f"{n} {what}" for what, n in counts.items()))
    return "\n".join(lines)


def _result(item: Item) -> str:
    """'failed: <why>' without the path the file column already shows."""
    if item.result != "failed":
        return item.result
    why = item.error.removeprefix(f"{item.input}: ")
    return f"failed: {why[:77] + '…' if len(why) > 78 else why}"


def _num(value) -> str:
    return "" if value in (None, "") else f"{value:g}"


def _check_report(path: str) -> None:
    p = Path(path)
    if p.suffix.lower() not in (".json", ".csv"):
        raise OutputError(f"--report {path}: name a .json or .csv file")
    if p.is_dir() or not p.parent.is_dir():
        raise OutputError(
            f"--report {path}: " + ("is a directory" if p.is_dir() else f"folder {p.parent} does not exist")
        )
    if not os.access(p.parent, os.W_OK):
        raise OutputError(f"--report {path}: not writable")


def _write_report(path: str | None, items: list[Item]) -> None:
    if not path:
        return
    rows = [i.row() for i in items]
    try:
        if path.lower().endswith(".csv"):
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                writer.writeheader()
                writer.writerows(rows)
        else:
            Path(path).write_text(json.dumps({"deeperfour": __version__, "files": rows}, indent=2) + "\n")
    except OSError as e:
        raise OutputError(f"--report {path}: {e.strerror or e} (the files themselves were written)") from None
