"""What a real image folder holds besides photos (a break-it helper's kinds, round 4): folders that cannot be read
or entered, named pipes, a labels file given as the folder, panoramas over the pixel limit, HEIC without its
plugin. Each is one line naming it and why; the rest of the folder is processed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ictc.cli import main
from ictc.core.errors import UsageError
from ictc.core.folders import scan_images
from ictc.core.images import ImageError, image_suffixes, load_rgb
from ictc.evaluation.export import cluster_files
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import COLOURS, fake_context

UNREADABLE = "a folder that cannot be read (Permission denied): its files are left out"


def _photos(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, colour in enumerate(("red", "green", "blue")):
        Image.new("RGB", (40 + i, 30), COLOURS[colour]).save(folder / f"{colour}_0.png")
    return folder


def _as_nobody(code: str) -> str:
    """`code`'s standard output, run by an ordinary user (uid 65534 when the tests run as root, where every
    permission would be granted)."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to test unreadable folders as root"
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def test_a_folder_that_cannot_be_read_or_entered_is_one_skipped_line_and_the_rest_is_taken(tmp_path):
    """k2_perms: a sub-folder listable but not enterable (mode 644) had aborted the whole run ("Permission
    denied: .../noexec/g.png"); a mode-000 folder had vanished without a word (rglob swallows the error)."""
    root = tmp_path / "world"
    root.mkdir(mode=0o755)
    images = _photos(root / "images")
    for sub in ("private", "noexec"):
        (images / sub).mkdir()
        shutil.copy(images / "green_0.png", images / sub / "g.png")
        shutil.copy(images / "blue_0.png", images / sub / "b.png")
    (images / "private").chmod(0o000)
    (images / "noexec").chmod(0o644)
    for parent in (images, *images.parents):
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)  # nobody may reach the folder
    try:
        listing = json.loads(_as_nobody(
            "import json; from ictc.core.folders import scan_images\n"
            f"l = scan_images({str(images)!r}); print(json.dumps([l.paths, l.skipped]))"))
    finally:
        (images / "private").chmod(0o755)
        (images / "noexec").chmod(0o755)
    assert listing == [[str(images / f"{c}_0.png") for c in ("blue", "green", "red")],
                       {str(images / "noexec"): UNREADABLE, str(images / "private"): UNREADABLE}]


def test_an_unreadable_image_folder_itself_is_one_line(tmp_path):
    images = _photos(tmp_path / "locked")
    images.chmod(0o000)
    for parent in images.parents:
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    try:
        said = _as_nobody("from ictc.core.folders import scan_images\nfrom ictc.core.errors import UsageError\n"
                          f"try:\n    scan_images({str(images)!r})\nexcept UsageError as e:\n    print(e)")
    finally:
        images.chmod(0o755)
    assert said.strip() == f"cannot read the image folder {images}: {UNREADABLE}"


def test_a_named_pipe_named_like_a_photo_is_said_never_opened_and_the_run_goes_on(tmp_path):
    """k2_files: a FIFO named pipe.png vanished without a word; opening it would wait for a writer forever."""
    images = _photos(tmp_path / "images")
    os.mkfifo(images / "pipe.png")
    (images / "to_pipe.png").symlink_to(images / "pipe.png")  # a link is judged by what it points to
    listing = scan_images(images)
    assert listing.skipped == {str(images / "pipe.png"): "a named pipe (FIFO), not a file",
                               str(images / "to_pipe.png"): "a named pipe (FIFO), not a file"}
    ctx = fake_context()
    result = start_run(str(images), make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    saved = json.loads((result.run_dir / "results.json").read_text("utf-8"))
    assert saved["summary"]["clustered"] == 3 and saved["summary"]["skipped"] == 2


@pytest.mark.parametrize("name", ["labels.csv", "notes"])
def test_a_file_given_as_the_image_folder_is_refused_in_one_line(tmp_path, capsys, name):
    """`ictc run labels.csv` had said "K=3 is more than the 1 images found"."""
    given = tmp_path / name
    given.write_text("image,label\nred_0.png,red\n")
    assert main(["run", str(given), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run")]) == 1
    assert capsys.readouterr().err.strip() == f"ictc: error: not a folder (and not an image): {given}"
    assert not (tmp_path / "run").exists()
    photo = _photos(tmp_path / "one") / "red_0.png"
    assert scan_images(photo).paths == [str(photo)]  # one image file is still taken as itself
    with pytest.raises(UsageError, match="not a folder"):
        scan_images(tmp_path / "one" / ".." / name)


def test_the_pixel_limit_is_a_setting_named_in_the_failure(tmp_path):
    """k2_files: the 100-megapixel limit was fixed in the code; a 120 Mpx panorama could not be read at all."""
    images = _photos(tmp_path / "images")
    with pytest.raises(ImageError, match=r"\(40x30 pixels declared, limit 1,000: ICTC_MAX_PIXELS raises it\)"):
        load_rgb(images / "red_0.png", max_pixels=1000)
    assert load_rgb(images / "red_0.png", max_pixels=1200).size == (40, 30)
    ctx = fake_context(max_pixels=1230)  # 40x30 and 41x30 are read, 42x30 = 1260 is not
    result = start_run(str(images), make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    rows = {Path(r["image"]).name: r for r in json.loads((result.run_dir / "results.json").read_text())["images"]}
    assert [n for n, r in rows.items() if r["status"] == "failed"] == ["blue_0.png"]
    assert "limit 1,230: ICTC_MAX_PIXELS raises it" in rows["blue_0.png"]["reason"]
    with pytest.raises(UsageError, match=r"max_pixels \(ICTC_MAX_PIXELS\) must be at least 1, not 0"):
        fake_context(max_pixels=0).settings.validate()


@pytest.mark.skipif(".heic" in image_suffixes(), reason="pillow-heif is installed here: HEIC is decoded, not skipped")
def test_a_heic_photo_without_its_plugin_says_what_decodes_it(tmp_path):
    images = _photos(tmp_path / "images")
    (images / "IMG_1234.HEIC").write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    assert scan_images(images).skipped == {str(images / "IMG_1234.HEIC"): (
        "not an image format the installed Pillow decodes ('.HEIC'); installing pillow-heif decodes it "
        "(pip install pillow-heif)")}


def test_same_named_files_exported_to_one_cluster_keep_their_extension_last(tmp_path):
    """k2_samename: copies of cam1/, cam2/, cam3/IMG_0001.png had become 'IMG_0001.png (2)', which no viewer opens."""
    run = tmp_path / "run"
    run.mkdir()
    images = [f"/photos/cam{i}/IMG_0001.png" for i in (1, 2, 3)] + ["/photos/cam1/IMG_0001.PNG", "/photos/x/.png"]
    (run / "results.json").write_text(json.dumps({"cluster_names": ["Red"], "images": [
        {"image": image, "status": "ok", "cluster": "Red"} for image in images]}))
    assert [target for _, target in cluster_files(run)[1]] == [
        "Red/IMG_0001.png", "Red/IMG_0001 (2).png", "Red/IMG_0001 (3).png", "Red/IMG_0001 (4).PNG", "Red/png"]


def test_files_added_to_the_folder_after_the_run_are_said_by_a_refinement(tmp_path, capsys):
    """k2_changes: files added (or renamed) after a run were never mentioned; a resume or refinement never takes them."""
    from ictc.graph.run import files_not_in_run
    from ictc.graph.versions import load_meta

    images = _photos(tmp_path / "images")
    ctx = fake_context()
    result = start_run(str(images), make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert files_not_in_run(load_meta(result.run_dir), result.rows) == []
    Image.new("RGB", (40, 30), COLOURS["yellow"]).save(images / "yellow_0.png")
    (images / "blue_0.png").rename(images / "blue_0_renamed.png")
    (images / "notes.txt").write_text("not an image")
    assert files_not_in_run(load_meta(result.run_dir), result.rows) == ["blue_0_renamed.png", "yellow_0.png"]
    capsys.readouterr()
    assert main(["refine", str(result.run_dir), "--rename", "1", "First"]) == 0  # a rename calls no model
    assert ("2 new file(s) in the folder are not part of this run (e.g. 'blue_0_renamed.png'): a new `ictc run` of "
            "the folder takes them") in capsys.readouterr().out.splitlines()
    listed = start_run([str(images / "red_0.png"), str(images / "green_0.png")], make_criterion("colour"), 2,
                       ctx.settings, tmp_path / "run2", context=ctx)
    assert files_not_in_run(load_meta(listed.run_dir), listed.rows) == []  # a list of paths has no folder


def test_resume_says_the_files_added_since(tmp_path, capsys, monkeypatch):
    from fake_server import FakeOpenAIServer

    monkeypatch.setenv("ICTC_WORKSPACE", str(tmp_path / "ws"))
    images = _photos(tmp_path / "images")
    with FakeOpenAIServer() as server:
        assert main(["run", str(images), "-c", "colour", "-k", "3", "--out", str(tmp_path / "run"), "--backend",
                     "openai", "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"]) == 0
        assert "not part of this run" not in capsys.readouterr().out
        Image.new("RGB", (40, 30), COLOURS["yellow"]).save(images / "yellow_0.png")
        assert main(["resume", str(tmp_path / "run"), "--base-url", server.url]) == 0
    assert ("1 new file(s) in the folder are not part of this run (e.g. 'yellow_0.png'): a new `ictc run` of the "
            "folder takes them") in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("name", ["Labels.csv", "LABELS.CSV"])
def test_a_labels_file_in_another_case_is_the_folder_s_labels_not_a_skipped_image(tmp_path, name):
    """Labels.csv had been listed as "not an image format" and not read for the metrics."""
    from ictc.evaluation.folder_labels import own_labels

    folder = _photos(tmp_path / "photos")
    (folder / name).write_text("image,label\nred_0.png,red\ngreen_0.png,green\nblue_0.png,blue\n")
    listing = scan_images(folder)
    assert len(listing.paths) == 3 and listing.skipped == {}
    assert own_labels(folder, listing.paths) == (str(folder / name), "")


def test_ictc_s_own_run_and_export_folders_inside_the_photos_are_left_out_and_said(tmp_path):
    """`ictc run .` writes runs/ inside the photo folder: the next run had taken its thumbnails and charts (and an
    export's copies) as photos to cluster."""
    folder = _photos(tmp_path / "photos")
    run = _photos(folder / "runs" / "20260101-colour" / "thumbnails")
    (run.parent / "run.json").write_text("{}")
    export = _photos(folder / "by-colour" / "Red")
    (export.parent / ".ictc-export.json").write_text("{}")
    listing = scan_images(folder)
    assert listing.paths == [str(folder / f"{c}_0.png") for c in ("blue", "green", "red")]
    assert listing.skipped == {
        str(folder / "by-colour"): "an ictc export (copies of photos already clustered)",
        str(folder / "runs" / "20260101-colour"): "an ictc run folder (its thumbnails and charts are no photos to "
                                                  "cluster)"}
