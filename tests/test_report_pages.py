"""report.html at scale (evaluation/report.py, store/thumbnails.py): thumbnails made once per content
and reused, and the report split into pages with an index of the clusters."""

from __future__ import annotations

from pathlib import Path

import pytest

from ictc.core.images import sha256_of
from ictc.evaluation import report
from ictc.store import thumbnails
from ictc.store.thumbnails import ThumbnailCache


@pytest.fixture
def rows(colour_images):
    return [{"image": p, "sha256": sha256_of(p), "cluster": Path(p).stem.split("_")[0].title(), "description": "d",
             "raw_label": "x", "route": "schema", "status": "ok", "reason": ""} for p in colour_images[0]]


def _results(rows):
    names = sorted({r["cluster"] for r in rows})
    return {"cluster_names": names, "criterion": {"text": "colour"}, "models": {"vlm": "v", "llm": "l"}}


def test_thumbnails_are_made_once_per_content_then_read_from_the_cache(rows, tmp_path, monkeypatch):
    made = []
    original = thumbnails.make_thumbnail
    monkeypatch.setattr(thumbnails, "make_thumbnail", lambda path, *size: made.append(path) or original(path, *size))
    cache = ThumbnailCache(tmp_path / "ws" / "thumbnails.sqlite")
    report.write_report(tmp_path / "run" / "report.html", _results(rows), rows, cache)
    assert len(made) == len({r["sha256"] for r in rows}) == 8
    first = (tmp_path / "run" / "report.html").read_text()
    assert first.count("data:image/jpeg;base64,") == 8
    renamed = [{**r, "cluster": "Scarlet" if r["cluster"] == "Red" else r["cluster"]} for r in rows]
    report.write_report(tmp_path / "run" / "report.html", _results(renamed), renamed, cache)
    assert len(made) == 8  # a rename decodes no image again
    assert "Scarlet" in (tmp_path / "run" / "report.html").read_text()
    cache.close()
    again = ThumbnailCache(tmp_path / "ws" / "thumbnails.sqlite")  # on disk: another run reuses them
    assert len(again.get_many((r["sha256"], r["image"]) for r in rows)) == 8 and len(made) == 8


def test_the_report_pages_through_the_clusters_and_drops_stale_pages(rows, tmp_path, monkeypatch):
    monkeypatch.setattr(report, "PAGE_SIZE", 3)
    path = tmp_path / "run" / "report.html"
    cache = ThumbnailCache(tmp_path / "thumbnails.sqlite")
    report.write_report(path, _results(rows), rows, cache)  # 8 images: pages of 3, 3, 2
    pages = [path, path.with_name("report-2.html"), path.with_name("report-3.html")]
    assert all(p.is_file() for p in pages) and not path.with_name("report-4.html").exists()
    assert [p.read_text().count("<figure") for p in pages] == [3, 3, 2]
    # clusters in name order: Blue (2), Green (3), Red (3); Green starts on page 1 and goes on on page 2
    assert "Green (continued)" in pages[1].read_text() and "report-2.html" in path.read_text()
    assert "<td>Red</td>" not in path.read_text() and "page 2" in path.read_text()  # the index names pages
    report.write_report(path, _results(rows[:3]), rows[:3], cache)  # a smaller version: one page
    assert path.read_text().count("<figure") == 3 and not pages[1].exists() and not pages[2].exists()


def test_step_1_makes_each_report_thumbnail_from_its_own_decode(colour_images, tmp_path, monkeypatch):
    """A run's report decodes no image again: Step 1 keeps the thumbnail of the image it decoded for the
    VLM (written with the next batch, the last ones after Step 1), and the report reads those."""
    from ictc.graph.run import start_run
    from ictc.prompts import make_criterion

    from fakes import fake_context

    made = []
    monkeypatch.setattr(thumbnails, "make_thumbnail", lambda path, *size: made.append(path))
    paths, _ = colour_images
    ctx = fake_context()
    result = start_run(paths, make_criterion("colour"), 3, ctx.settings, tmp_path / "run", context=ctx)
    assert made == []  # none made from its file
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count("data:image/jpeg;base64,") == len(result.rows) == 8
    stored = ThumbnailCache(ctx.settings.resolved_workspace() / "thumbnails.sqlite")
    jpegs = stored.get_many((r["sha256"], r["image"]) for r in result.rows)
    assert made == [] and len(jpegs) == 8 and all(j.startswith(b"\xff\xd8") for j in jpegs.values())


def test_thumbnails_added_are_written_in_batches_and_at_flush(tmp_path):
    cache = ThumbnailCache(tmp_path / "thumbnails.sqlite")
    for i in range(thumbnails.BATCH + 3):
        cache.add(f"sha{i}", b"jpeg")
    reader = ThumbnailCache(tmp_path / "thumbnails.sqlite")  # another connection sees what is written
    assert len(reader.get_many((f"sha{i}", "/none") for i in range(thumbnails.BATCH + 3))) == thumbnails.BATCH
    cache.flush()
    assert len(reader.get_many((f"sha{i}", "/none") for i in range(thumbnails.BATCH + 3))) == thumbnails.BATCH + 3


@pytest.mark.parametrize("cached", [True, False])
def test_report_thumbnails_decode_no_image_past_the_run_s_pixel_limit(rows, tmp_path, cached):
    """The report's thumbnails were decoded with the default limit, not the run's ICTC_MAX_PIXELS (its Step 1's)."""
    results = {**_results(rows), "settings": {"max_pixels": 41 * 30}}  # the images are 40..42 x 30 pixels
    cache = ThumbnailCache(tmp_path / "thumbnails.sqlite") if cached else None
    report.write_report(tmp_path / "run" / "report.html", results, rows, cache)
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.count("data:image/jpeg;base64,") == 6 and page.count("(unreadable)") == 2  # red_2, green_2: 42 x 30


def test_the_report_of_a_refined_run_names_its_version_and_the_instructions_in_force(rows, tmp_path):
    """A newcomer's `ictc refine --instruction "Do not consider colour." --step 3` rewrote report.html headed
    "4 clusters by object" alone: nothing said which version it was or that an instruction was in force."""
    path = tmp_path / "run" / "report.html"
    results = {**_results(rows), "version": 2, "criterion": {
        "text": "colour", "instructions": {"assign": ["Do not consider colour."], "all": ["Ignore the border."]}}}
    report.write_report(path, results, rows)
    page = path.read_text()
    assert "Version 2" in page and "“Do not consider colour.” (assign)" in page, page[:2000]
    assert "“Ignore the border.” (all steps)" in page
    report.write_report(path, _results(rows), rows)  # a first run: no instruction, no version said
    assert "Instructions in force" not in path.read_text()
