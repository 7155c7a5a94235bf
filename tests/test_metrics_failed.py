"""A file that failed is said failed by the metrics, not "no label": a broken file the labels file does not name
had been listed among the unlabelled images."""

from __future__ import annotations

from PIL import Image

from ictc.cli import main
from ictc.graph.run import start_run
from ictc.prompts import make_criterion

from fakes import fake_context, make_images


def test_a_failed_file_is_said_failed_not_unlabelled(tmp_path, capsys):
    _, labels = make_images(tmp_path / "images", {"red": 2, "green": 2, "blue": 2})
    (tmp_path / "images" / "broken.png").write_text("this is text, not an image")
    Image.new("RGB", (30, 30), (200, 20, 20)).save(tmp_path / "images" / "extra.png")  # no row names it
    ctx = fake_context()
    start_run(str(tmp_path / "images"), make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    capsys.readouterr()
    main(["eval", str(tmp_path / "run"), str(labels)])
    out = capsys.readouterr().out
    assert "(1 failed, 1 not named in the labels file)" in out, out
    assert f"{tmp_path / 'images' / 'broken.png'}: failed, not scored" in out, out
    assert "broken.png: no label" not in out
