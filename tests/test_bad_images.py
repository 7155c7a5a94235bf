"""Bad image files: each is reported on one line with its reason, recorded as failed, and the run goes on."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ictc.cli import main
from ictc.core.images import ImageError, load_rgb
from ictc.evaluation.traces import iter_trace_lines
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import fake_context


def _png_declaring(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _png16(path: Path, samples: np.ndarray) -> None:
    """A PNG with 16 bits per sample (Pillow writes none in colour): samples (h, w, 3 or 4), 0..65535."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    height, width, channels = samples.shape
    header = struct.pack(">IIBBBBB", width, height, 16, {3: 2, 4: 6}[channels], 0, 0, 0)
    rows = b"".join(b"\0" + samples[y].astype(">u2").tobytes() for y in range(height))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))


@pytest.fixture
def zoo(tmp_path) -> Path:
    """Good and bad files side by side."""
    d = tmp_path / "zoo"
    d.mkdir()
    for i, colour in enumerate([(220, 30, 30), (30, 50, 220)]):
        Image.new("RGB", (60 + i, 40), colour).save(d / f"good_{i}.jpg")
    (d / "zero.png").write_bytes(b"")
    good = (d / "good_0.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (d / "notes.png").write_text("this is text, not an image")
    (d / "bomb.png").write_bytes(_png_declaring(12_000, 12_000))  # 144 Mpx: between PIL's warning and error
    Image.fromarray(np.full((20, 30), 50_000, dtype=np.uint16)).save(d / "sixteen_bit.png")
    Image.new("CMYK", (20, 20), (0, 255, 255, 0)).save(d / "cmyk.jpg")
    Image.new("P", (20, 20)).save(d / "palette.png")
    Image.new("RGBA", (20, 20), (0, 0, 255, 0)).save(d / "alpha.png")
    frames = [Image.new("RGB", (20, 20), c) for c in [(255, 0, 0), (0, 255, 0)]]
    frames[0].save(d / "animated.gif", save_all=True, append_images=frames[1:])
    frames[0].save(d / "animated.webp", save_all=True, append_images=frames[1:])
    Image.new("RGB", (1, 1), (0, 200, 0)).save(d / "one_pixel.png")
    Image.new("RGB", (20, 20), (0, 200, 0)).save(d / "name with spaces é中.png")
    (d / "good_0 again.jpg").write_bytes(good)  # the same image twice
    os.symlink("loop_b.png", d / "loop_a.png")
    os.symlink("loop_a.png", d / "loop_b.png")
    os.symlink("nowhere.png", d / "dangling.png")
    (d / "readme.txt").write_text("not an image suffix: ignored")
    (d / "data.csv").write_text("a,b\n")
    return d


BAD = {
    "zero.png": "empty file (0 bytes)",
    "truncated.jpg": "not a readable image",
    "notes.png": "not a readable image (cannot identify image file",
    "bomb.png": "image too large (12000x12000 pixels declared",
    "loop_a.png": "Too many levels of symbolic links",
    "loop_b.png": "Too many levels of symbolic links",
    "dangling.png": "No such file or directory",
}


def test_each_bad_file_fails_alone_with_its_reason_and_the_run_goes_on(zoo, tmp_path):
    ctx = fake_context()
    result = start_run(str(zoo), make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    by_name = {Path(r["image"]).name: r for r in result.rows}
    assert "readme.txt" not in by_name and "data.csv" not in by_name  # non-images ignored
    for name, reason in BAD.items():
        assert by_name[name]["status"] == "failed" and reason in by_name[name]["reason"], (name, by_name[name]["reason"])
        assert by_name[name]["cluster"] == ""
    ok = {n for n, r in by_name.items() if r["status"] == "ok"}
    assert ok == set(by_name) - set(BAD)
    assert by_name["good_0.jpg"]["same_as"].endswith("good_0 again.jpg")  # sorted first, described once
    assert len(ctx.vlm.calls) == len(ok) - 1  # the duplicate is described once
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["summary"]["failed"] == len(BAD)



@pytest.mark.parametrize(("name", "expected"), [
    ("alpha.png", (255, 255, 255)),  # transparent pixels over white
    ("animated.gif", (255, 0, 0)),  # first frame
    ("animated.webp", (255, 0, 0)),
    ("cmyk.jpg", (255, 0, 0)),
    ("one_pixel.png", (0, 200, 0)),
])
def test_unusual_but_valid_images_decode_to_rgb(zoo, name, expected):
    image = load_rgb(zoo / name, 512)
    assert image.mode == "RGB" and all(abs(a - b) <= 3 for a, b in zip(image.getpixel((0, 0)), expected, strict=True))


def test_sixteen_bit_keeps_its_brightness(zoo):
    value = load_rgb(zoo / "sixteen_bit.png").getpixel((0, 0))
    assert value[0] == value[1] == value[2] and abs(value[0] - 50_000 // 256) <= 1


def test_exif_rotated_photo_is_turned_upright(tmp_path):
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display rotated 90 degrees clockwise
    image.save(tmp_path / "rotated.jpg", exif=exif)
    assert load_rgb(tmp_path / "rotated.jpg").size == (20, 40)


def test_a_model_is_sent_the_file_itself_only_when_it_shows_exactly_the_decoded_pixels(tmp_path):
    """Step 1 sends an upright 8-bit RGB PNG or JPEG within the size limit as it is (no encode); anything
    load_rgb changes (turned upright, downscaled, alpha on white, palette) is sent as load_rgb decoded it."""
    import base64

    from ictc.core.images import data_uri_of, data_uri_to_image

    plain = Image.new("RGB", (40, 20), (10, 200, 30))
    plain.save(tmp_path / "plain.png")
    plain.save(tmp_path / "plain.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6
    plain.save(tmp_path / "rotated.jpg", exif=exif)
    Image.new("RGBA", (40, 20), (10, 200, 30, 0)).save(tmp_path / "clear.png")
    plain.convert("P").save(tmp_path / "palette.png")
    for name, max_side in (("plain.png", None), ("plain.jpg", None), ("plain.png", 40)):
        uri = data_uri_of(load_rgb(tmp_path / name, max_side), tmp_path / name)
        assert base64.b64decode(uri.split(",", 1)[1]) == (tmp_path / name).read_bytes(), name
    for name, max_side, size in (("rotated.jpg", None, (20, 40)), ("plain.png", 30, (30, 15)), ("clear.png", None, (40, 20)),
                                 ("palette.png", None, (40, 20))):
        img = load_rgb(tmp_path / name, max_side)
        uri = data_uri_of(img, tmp_path / name)
        assert base64.b64decode(uri.split(",", 1)[1]) != (tmp_path / name).read_bytes(), name
        assert data_uri_to_image(uri).size == size and np.array_equal(np.asarray(data_uri_to_image(uri)), np.asarray(img))


def test_bomb_is_refused_before_decoding(zoo):
    with pytest.raises(ImageError, match="too large"):
        load_rgb(zoo / "bomb.png")


def test_a_bomb_past_pillow_s_own_limit_names_one_limit_and_the_file_s_size(tmp_path):
    """Past twice ICTC_MAX_PIXELS Pillow refuses the file itself: the reason had named its limit and ours."""
    (tmp_path / "huge.png").write_bytes(_png_declaring(20_000, 20_000))
    with pytest.raises(ImageError) as refused:
        load_rgb(tmp_path / "huge.png")
    assert str(refused.value).endswith("huge.png: image too large (400,000,000 pixels declared, limit 100,000,000: "
                                       "ICTC_MAX_PIXELS raises it)")


def test_cli_summary_lists_each_failure_and_exit_code_says_so(zoo, tmp_path, capsys):
    from fake_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        code = main(["run", str(zoo), "-c", "colour", "-k", "2", "--out", str(tmp_path / "run"), "--backend", "openai",
                     "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"])
    out = capsys.readouterr().out
    assert code == 4 and f"{len(BAD)} image(s) failed:" in out
    for name in BAD:
        assert sum(name in line for line in out.splitlines()) >= 1


def test_unreadable_file_is_named_with_its_reason(tmp_path):
    """As root every file is readable, so the check then runs as the unprivileged user nobody."""
    import shutil
    import subprocess
    import sys

    folder = tmp_path / "private"
    folder.mkdir()
    Image.new("RGB", (4, 4)).save(folder / "secret.png")
    (folder / "secret.png").chmod(0)
    for parent in (folder, *folder.parents):
        if parent == Path("/"):
            break
        parent.chmod(parent.stat().st_mode | 0o005)  # nobody may reach the folder, not the file
    check = ("import sys; from ictc.core.images import hash_or_reason, load_rgb, ImageError\n"
             f"print(hash_or_reason({str(folder / 'secret.png')!r})[1])\n"
             f"try:\n    load_rgb({str(folder / 'secret.png')!r})\nexcept ImageError as e:\n    print(e)")
    command = [sys.executable, "-c", check]
    if os.geteuid() == 0:
        assert shutil.which("setpriv"), "setpriv (util-linux) is needed to test unreadable files as root"
        command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["cannot read the file (Permission denied)",
                   f"{folder / 'secret.png'}: not a readable image (Permission denied)"]


def _saveable_formats() -> dict[str, str]:
    """{suffix: format} for every suffix of every format the installed Pillow both writes and reads."""
    from ictc.core.images import image_suffixes

    Image.init()
    return {suffix: name for suffix, name in sorted(Image.registered_extensions().items())
            if name in Image.SAVE and suffix in image_suffixes()}


def test_every_format_pillow_writes_is_taken_and_decoded(tmp_path):
    """Issue 17 case 8: on main a folder's .avif files (and .qoi, .jp2, .tga ...) were skipped silently."""
    from ictc.core.folders import scan_images

    written = {}
    for suffix, name in _saveable_formats().items():
        image = Image.new("RGB", (24, 16), (200, 30, 30))
        for mode in ("RGB", "L", "1"):  # some formats only write grey or black-and-white
            try:
                image.convert(mode).save(tmp_path / f"img{suffix}", format=name)
            except (OSError, ValueError, KeyError):
                (tmp_path / f"img{suffix}").unlink(missing_ok=True)
                continue
            written[suffix] = mode
            break
    assert {".avif", ".webp", ".png", ".jpg", ".tif", ".qoi", ".tga"} <= set(written)
    listing = scan_images(tmp_path)
    assert sorted(Path(p).suffix for p in listing.paths) == sorted(written) and not listing.skipped
    for suffix, mode in written.items():
        pixel = load_rgb(tmp_path / f"img{suffix}").getpixel((12, 8))
        if mode == "RGB":  # lossy formats: near the colour written
            assert all(abs(a - b) <= 40 for a, b in zip(pixel, (200, 30, 30), strict=True)), (suffix, pixel)


def test_avif_is_clustered_and_skipped_files_are_counted_and_named(tmp_path, capsys):
    from fake_server import FakeOpenAIServer

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.new("RGB", (40 + i, 30), (220, 30, 30)).save(folder / f"red_{i}.avif")
        Image.new("RGB", (40 + i, 30), (30, 50, 220)).save(folder / f"blue_{i}.png")
    (folder / "notes.txt").write_text("not an image")
    (folder / "clip.mpg").write_bytes(b"\x00\x00\x01\xb3" + b"\0" * 64)  # Pillow identifies MPEG, cannot decode it
    (folder / "labels.csv").write_text("image,label\nred_0.avif,red\nred_1.avif,red\nblue_0.png,blue\nblue_1.png,blue\n")
    with FakeOpenAIServer() as server:
        code = main(["run", str(folder), "-c", "colour", "-k", "2", "--labels", str(folder / "labels.csv"),
                     "--out", str(tmp_path / "run"), "--backend",
                     "openai", "--base-url", server.url, "--vlm", "vision-model", "--llm", "text-model"])
    out = capsys.readouterr().out
    saved = json.loads((tmp_path / "run" / "results.json").read_text("utf-8"))
    assert code == 0
    clusters = {Path(r["image"]).name: r["cluster"] for r in saved["images"] if r["status"] == "ok"}
    assert clusters == {"red_0.avif": "Red", "red_1.avif": "Red", "blue_0.png": "Blue", "blue_1.png": "Blue"}
    assert saved["summary"]["skipped"] == 2
    assert {Path(s["file"]).name: s["reason"] for s in saved["skipped"]} == {
        "clip.mpg": "not an image format the installed Pillow decodes ('.mpg')",
        "notes.txt": "not an image format the installed Pillow decodes ('.txt')"}
    assert "Skipped 2 files:" in out and f"{folder / 'notes.txt'}: not an image format" in out  # not labels.csv
    assert "ACC 1.000  NMI 1.000  ARI 1.000  (scored 4 of 4 images)" in out


def test_a_file_name_that_is_not_utf8_is_processed_and_every_output_stays_utf8(tmp_path):
    """Issue 17 case 9: on main one Latin-1 name (b'caf\\xe9.png') ended the whole run at Step 1."""
    from ictc.evaluation.export import export_clusters
    from ictc.graph.run import resume_run
    from ictc.graph.session import run_state

    folder = tmp_path / "photos"
    folder.mkdir()
    for i, colour in enumerate([(220, 30, 30)] * 3 + [(30, 50, 220)] * 2):
        Image.new("RGB", (40 + i, 30), colour).save(folder / f"good_{i}.png")
    latin1 = os.fsencode(folder) + b"/caf\xe9.png"
    Image.new("RGB", (30, 30), (30, 50, 220)).save(os.fsdecode(latin1))
    with open(os.fsencode(folder) + b"/broken_\xff.jpg", "wb") as handle:  # a bad file with a bad name fails alone
        handle.write(b"not a jpeg")
    ctx = fake_context()
    result = start_run(str(folder), make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    by_name = {Path(r["image"]).name: r for r in result.rows}
    assert by_name["caf\\xe9.png"]["status"] == "ok" and by_name["caf\\xe9.png"]["cluster"] == "Blue"
    assert by_name["broken_\\xff.jpg"]["status"] == "failed"
    assert by_name["broken_\\xff.jpg"]["reason"].startswith(f"describe: ImageError: {folder}/broken_\\xff.jpg: not a readable")
    assert sum(r["status"] == "ok" for r in result.rows) == 6 and len(ctx.vlm.calls) == 6
    resume_run(tmp_path / "run", context=ctx)  # retries the broken file, rewrites every output
    outputs = {name: (tmp_path / "run" / name).read_bytes() for name in ("results.csv", "results.json", "report.html",
                                                                        "run.json")}
    outputs["traces"] = b"".join(iter_trace_lines(tmp_path / "run"))  # traces.jsonl.zst, decompressed
    for name, data in outputs.items():
        text = data.decode("utf-8")  # strict: raises on any bad byte
        assert name == "run.json" or "caf\\\\xe9.png" in text or "caf\\xe9.png" in text, name
    assert f"{folder}/caf\\xe9.png" in run_state(tmp_path / "run")["descriptions"]  # the checkpoint holds it
    exported = export_clusters(tmp_path / "run", tmp_path / "export")
    assert (exported["Blue"] / "caf_xe9.png").read_bytes() == Path(os.fsdecode(latin1)).read_bytes()


def test_high_bit_depth_reaches_the_vlm_scaled_by_its_real_range(tmp_path):
    """Issue 17 case 10: on main 12-bit data in a 16-bit PNG reached the VLM with mean 7.9, float TIFFs at 0."""
    from ictc.core.images import data_uri_to_image

    from fakes import FakeVLM

    class BrightnessVLM(FakeVLM):
        seen: dict[int, float] = {}

        def respond(self, messages, **kwargs):
            image = data_uri_to_image(messages[-1].content[-1]["image_url"]["url"])
            self.seen[image.width] = float(np.asarray(image).mean())
            return super().respond(messages, **kwargs)

    folder = tmp_path / "deep"
    folder.mkdir()
    ramp = np.linspace(0, 1, 64)
    arrays = {  # width -> pixels whose ramp covers the data's real range
        64: np.tile(np.rint(ramp * 4095), (32, 1)).astype(np.uint16),  # 12-bit in a 16-bit PNG
        65: np.tile(np.append(ramp, 0.5), (32, 1)).astype(np.float32),  # float 0..1
        66: np.tile(np.append(ramp, [0.5, 0.5]) * 1000 - 200, (32, 1)).astype(np.float32),  # float -200..800
        67: np.tile(np.append(ramp, [0.5] * 3) * 2 - 1, (32, 1)).astype(np.float32),  # float -1..1
        68: np.tile(np.rint(np.append(ramp, [0.5] * 4) * 1023), (32, 1)).astype(np.int32),  # 10-bit in 32-bit ints
    }
    Image.new("RGB", (20, 20), (220, 30, 30)).save(folder / "red.png")  # a second colour, for K=2
    for width, pixels in arrays.items():
        Image.fromarray(pixels).save(folder / f"w{width}.{'png' if pixels.dtype == np.uint16 else 'tif'}")
    twelve_bit = np.tile(np.rint(np.append(ramp, [0.5] * 5) * 4095), (32, 1))
    _png16(folder / "w69.png", np.stack([twelve_bit] * 3, axis=-1))  # 12-bit colour in a 48-bit PNG
    twelve_bit = np.tile(np.rint(np.append(ramp, [0.5] * 6) * 4095), (32, 1))
    _png16(folder / "w70.png", np.stack([twelve_bit] * 3 + [np.full_like(twelve_bit, 65535)], axis=-1))  # RGBA 64-bit
    arrays.update({69: twelve_bit, 70: twelve_bit})
    vlm = BrightnessVLM()
    ctx = fake_context(vlm=vlm)
    result = start_run(str(folder), make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    assert all(r["status"] == "ok" for r in result.rows)
    assert sorted(vlm.seen) == [20, *sorted(arrays)]
    for width, mean in [(w, m) for w, m in vlm.seen.items() if w != 20]:
        assert abs(mean - 127.5) < 3, (width, mean)


def test_a_nas_s_thumbnails_and_macos_metadata_files_are_left_out_and_said(tmp_path):
    """A break-it helper's photo folder from a Synology NAS and a Mac: 8 photos became 24 clustered images
    (@eaDir thumbnails), and each '._x.png' failed as a broken image."""
    from ictc.core.folders import scan_images

    Image.new("RGB", (24, 16), (200, 30, 30)).save(tmp_path / "red.png")
    (tmp_path / "._red.png").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + b"\x00" * 60)
    for folder in ("@eaDir/red.png", "__MACOSX/sub"):
        (tmp_path / folder).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / folder / "SYNOFILE_THUMB_S.jpg")
    listing = scan_images(tmp_path)
    assert [Path(p).name for p in listing.paths] == ["red.png"]
    assert {Path(p).name: reason.split(" ")[0] for p, reason in listing.skipped.items()} == {
        "._red.png": "macOS", "@eaDir": "Synology's", "__MACOSX": "macOS"}
    # a second break-it helper's: Windows' bin, a hidden folder (.stversions, .Trashes ...), Android's trash, a link
    # to a folder (rglob does not follow it; it had been said to be no image format)
    for folder in ("$RECYCLE.BIN", ".stversions/a", "$Recycle.Bin", "lost+found"):  # NTFS spells it both ways
        (tmp_path / folder).mkdir(parents=True)
        Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / folder / "copy.png")
    Image.new("RGB", (8, 8), (200, 30, 30)).save(tmp_path / ".trashed-1732000000-red.png")
    (tmp_path / "more").symlink_to(tmp_path / "__MACOSX", target_is_directory=True)
    listing = scan_images(tmp_path)
    assert [Path(p).name for p in listing.paths] == ["red.png"]
    reasons = {Path(p).name: reason for p, reason in listing.skipped.items()}
    assert reasons["$RECYCLE.BIN"] == reasons["$Recycle.Bin"] == "Windows' recycle bin"
    assert reasons[".stversions"].startswith("a hidden folder") and reasons["lost+found"].startswith("a file system")
    assert reasons[".trashed-1732000000-red.png"].startswith("Android's trash")
    assert reasons["more"] == "a link to a folder, not followed (give that folder itself)"
    # counted as what they are: a newcomer read "3 file(s) skipped" for two folders and a file
    from ictc.core.folders import entries_said

    assert entries_said(listing.skipped) == "2 files and 7 folders"


def test_two_broken_copies_each_fail_under_their_own_name(tmp_path):
    """Two files with the same broken bytes share one record: the second's reason had named the first file."""
    folder = tmp_path / "images"
    folder.mkdir()
    for i, colour in enumerate([(220, 30, 30)] * 2 + [(30, 50, 220)] * 2):
        Image.new("RGB", (40 + i, 30), colour).save(folder / f"good_{i}.png")
    for name in ("holiday_a.png", "holiday_b.png"):
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    ctx = fake_context()
    result = start_run(str(folder), make_criterion("colour"), 2, ctx.settings, tmp_path / "run", context=ctx)
    reasons = {Path(r["image"]).name: r["reason"] for r in result.rows if r["status"] == "failed"}
    assert set(reasons) == {"holiday_a.png", "holiday_b.png"}
    assert "holiday_b" not in reasons["holiday_a.png"] and "holiday_a" not in reasons["holiday_b.png"]
    assert f"{folder}/holiday_b.png: not a readable image" in reasons["holiday_b.png"]
