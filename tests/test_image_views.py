"""The chat app's image views decode within the session's ICTC_MAX_PIXELS, as its runs do (ui/views.py)."""

from __future__ import annotations

from pathlib import Path

from test_ui_app import open_app, use_folder

from fakes import fake_context


def test_the_preview_decodes_no_image_past_the_session_s_pixel_limit(colour_images, monkeypatch):
    """The views had decoded with the default limit whatever ICTC_MAX_PIXELS said (the report's thumbnails too)."""
    monkeypatch.setenv("ICTC_MAX_PIXELS", str(41 * 30))  # the images are 40..42 x 30 pixels
    app = open_app(fake_context())
    use_folder(app, Path(colour_images[0][0]).parent)
    assert not app.exception, app.exception
    assert app.session_state["ictc_session"].settings.max_pixels == 41 * 30
    assert len(app.image) == 6  # red_2 and green_2 (42 x 30) are not decoded
