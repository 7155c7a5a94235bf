"""Export a run as one folder per cluster. Folder names come from model text, so they are made safe:
no path separators, no `..`, no control characters, bounded length, unique."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from pathlib import Path

from ictc.core.errors import UsageError
from ictc.core.images import file_path
from ictc.evaluation.outputs import write_atomic


def safe_folder_name(name: str, taken: set[str]) -> str:
    """A file or folder name made from `name`: NFKC-normalised, separators, control and reserved characters
    and `..` replaced by `_`, at most 80 characters, "cluster" when nothing is left, and " (2)", " (3)" ...
    appended until it is not in `taken` (lower-cased names). Adds the result, lower-cased, to `taken`."""
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[\x00-\x1f\x7f/\\:*?\"<>|]", "_", text).strip().strip(".")
    text = re.sub(r"\.{2,}", "_", text)[:80].strip() or "cluster"
    candidate, n = text, 2
    while candidate.lower() in taken:
        candidate, n = f"{text} ({n})", n + 1
    taken.add(candidate.lower())
    return candidate


def export_clusters(run_dir: Path, out: Path) -> dict[str, Path]:
    """Copies each clustered image into out/<cluster>/ and writes out/clusters.json (name -> folder name).

    Returns {cluster name: folder}. Failed images and clusters not in `cluster_names` are left out.
    Raises UsageError if a folder would land outside `out`; OSError if results.json or an image is missing."""
    results = json.loads((run_dir / "results.json").read_text("utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    taken: set[str] = set()
    folders = {name: out / safe_folder_name(name, taken) for name in results["cluster_names"]}
    for folder in folders.values():
        if folder.resolve().parent != out.resolve():  # never outside the export folder
            raise UsageError(f"cluster folder {folder} would leave {out}")
        folder.mkdir(exist_ok=True)
    for row in results["images"]:
        if row["status"] == "ok" and row["cluster"] in folders:
            source = Path(file_path(row["image"]))  # results hold the shown path (core/images.py)
            target_names: set[str] = {p.name.lower() for p in folders[row["cluster"]].iterdir()}
            shutil.copyfile(source, folders[row["cluster"]] / safe_folder_name(Path(row["image"]).name, target_names))
    write_atomic(out / "clusters.json", json.dumps({n: f.name for n, f in folders.items()}, indent=2, ensure_ascii=False))
    return folders


def zip_clusters(run_dir: Path) -> bytes:
    """The export above as zip bytes (stored, not compressed): one folder per cluster, plus results.csv and
    results.json. Raises as `export_clusters` does."""
    import io
    import tempfile
    import zipfile

    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        out = Path(tmp) / "clusters"
        export_clusters(run_dir, out)
        for path in sorted(out.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(out).as_posix())
        for name in ("results.csv", "results.json"):
            archive.write(run_dir / name, name)
    return buffer.getvalue()
