"""The whole loop in a real browser: `ictc ui` (a real Streamlit server, endpoint backend) against the
loopback fake OpenAI server, driven by Playwright in Debian's chromium: the greeting said once, choose the
images (the sidebar folds; a preview nothing covers, each caption its own), type the criterion in the chat,
reload during the run (the job is re-attached), the page kept at its top (tabs in view), the overview, the
metrics (the confusion plot at its own size), the galleries and the status line in view, a merge then a
split, undo and go back to a version, an image's details with next, a reload that restores the work, an
800 px window, the zip. Screenshots go to test-artifacts/ (git-ignored). Skipped only when
chromium is not installed."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import LEVERS_OFF

from fake_server import FakeOpenAIServer

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed "
                                 "(apt-get install chromium; .ci/run does it)")]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_url(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICTC_")}
    env.update(ICTC_WORKSPACE=str(tmp_path / "workspace"), OPENAI_API_KEY="test-key", HF_HUB_OFFLINE="1")
    env.update(LEVERS_OFF)  # Step 3 asks the model for every image, so Details shows its Step-3 trace
    with FakeOpenAIServer(latency=0.05) as server:  # slow enough to reload the page during the first run
        process = subprocess.Popen(
            [sys.executable, "-m", "ictc.cli", "ui", "--port", str(port), "--backend", "openai", "--base-url",
             server.url, "--vlm", "vision-model", "--llm", "text-model", "--concurrency", "4",
             "--env-file", str(tmp_path / "none.env")],
            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError(f"ictc ui did not start: {process.stdout.read()}") from None
                    time.sleep(0.3)
            yield url
        finally:
            process.terminate()
            process.wait(10)


def chat_box(page):
    """The chat input's whole box (the text area and its send button)."""
    return page.get_by_test_id("stChatInput")


def visible_on_top(page, locator) -> bool:
    """True when the middle of `locator`'s element is not covered by another element."""
    box = locator.bounding_box()
    return locator.evaluate("(el, [x, y]) => el === document.elementFromPoint(x, y) || el.contains("
                            "document.elementFromPoint(x, y))", [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2])


def test_the_whole_loop_in_chromium_on_the_sample_photos(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(180_000)
        expect.set_options(timeout=180_000)
        page.goto(app_url)
        expect(chat_box(page)).to_be_in_viewport(ratio=1)  # under the chat, in view
        expect(page.get_by_text("Choose images on the left")).to_have_count(1)  # said once: no echo in a status line
        page.screenshot(path=str(ARTIFACTS / "ui-landing.png"))

        page.get_by_role("button", name="Use the sample photos").click()  # CIFAR-10 + ImageNet, 40 photos
        expect(page.get_by_text("40 images chosen (sample photos (both))")).to_be_visible()  # a preview before a run
        expect(page.get_by_text("40 images: sample photos (both) (with labels: metrics on)")).not_to_be_in_viewport()
        assert page.locator("[data-testid='stSidebar']").bounding_box()["width"] < 100  # folded once images are chosen
        preview = page.locator(".st-key-preview img")
        expect(preview).to_have_count(24)
        page.wait_for_timeout(500)
        assert visible_on_top(page, preview.first)  # nothing (a sticky status line) covers the first row
        caption_boxes = page.locator(".st-key-preview [data-testid='stCaptionContainer']")
        captions = caption_boxes.all_inner_texts()
        assert len(set(captions)) == len(captions) == 24  # each photo's caption is its own
        # the whole file name, extension too ("cifa…10_05_6" had been cut in the middle), wrapped in its cell
        assert all(c.endswith((".png", ".jpg", ".jpeg")) and "…" not in c for c in captions), captions
        heights = caption_boxes.evaluate_all("boxes => boxes.map(box => box.getBoundingClientRect().height)")
        assert max(heights) < 3.5 * min(heights)  # three lines at most
        spill = caption_boxes.evaluate_all("boxes => boxes.filter(box => box.scrollWidth > box.clientWidth + 1).length")
        assert spill == 0  # none runs past its cell
        expect(chat_box(page)).to_be_in_viewport(ratio=1)
        page.screenshot(path=str(ARTIFACTS / "ui-preview.png"))
        chat = page.get_by_test_id("stChatInputTextArea")
        chat.fill("group these by colour, 3 groups")
        chat.press("Enter")
        expect(page.get_by_text("Say go to run it, or correct me.").first).to_be_visible()
        chat.fill("go")
        chat.press("Enter")
        expect(page.get_by_text("Working: first run")).to_be_visible()
        page.reload()  # during the run: the job is found again and its progress resumes in the new page
        expect(page.get_by_text("Working: first run")).to_be_visible()
        expect(page.get_by_text(re.compile(r"Step 1 · describe: \d+/40"))).to_be_visible()
        page.screenshot(path=str(ARTIFACTS / "ui-reattached.png"))
        expect(page.get_by_text(re.compile(r"Done in .* \(first run\)")).first).to_be_visible()
        page.wait_for_timeout(1000)
        expect(page.get_by_role("tab", name="Clusters")).to_be_in_viewport()  # the page was not scrolled to its end
        expect(chat_box(page)).to_be_in_viewport(ratio=1)
        assert page.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") == 0

        results = page.locator(".st-key-mainrow [data-testid='stColumn']").nth(1)
        headings = results.get_by_role("heading", name=re.compile(r"^\d+\. .+ · \d+$"))
        expect(headings).to_have_count(3)
        found = [re.search(r"\d+\. (.+) · (\d+)", h).groups() for h in headings.all_inner_texts()]
        names, sizes = [name for name, _ in found], [int(size) for _, size in found]
        assert sum(sizes) == 40
        page.screenshot(path=str(ARTIFACTS / "ui-clusters.png"))
        page.mouse.move(900, 600)
        page.mouse.wheel(0, 3000)  # down the gallery: the status line and the chat stay in view
        expect(page.locator(".st-key-statusline")).to_be_in_viewport()
        expect(page.locator(".st-key-chatpane")).to_be_in_viewport()
        page.screenshot(path=str(ARTIFACTS / "ui-scrolled.png"))

        page.get_by_role("tab", name="Overview").click()
        expect(page.get_by_text("Select a row to see that cluster")).to_be_visible()
        expect(results.get_by_test_id("stDataFrame")).to_be_visible()
        page.wait_for_timeout(2000)  # the table draws into a canvas after it is attached
        page.screenshot(path=str(ARTIFACTS / "ui-overview.png"))
        page.get_by_role("tab", name="Metrics").click()
        confusion = page.locator(".confusion img")
        expect(confusion).to_be_visible()
        # shown at its own size (scrolling in its box), not scaled down to the pane until its labels are unreadable
        assert confusion.evaluate("img => img.naturalWidth") == round(confusion.bounding_box()["width"])
        page.screenshot(path=str(ARTIFACTS / "ui-metrics.png"))
        page.get_by_role("tab", name="Clusters").click()

        chat.fill("merge the first two")  # no model is called: applied at once, no "go"
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Done in .*merge")).first).to_be_visible()
        expect(headings).to_have_count(2)
        chat.fill(f"split {names[0]} in two")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(rf"Step 2b on the raw labels of '{names[0]}' \(\d+ distinct, into 2 parts\)")).first).to_be_visible()
        chat.fill("go")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(rf"Split {names[0]} into 2: ")).first).to_be_visible()
        expect(headings).to_have_count(3)
        page.screenshot(path=str(ARTIFACTS / "ui-split.png"))
        chat.fill("undo")  # back to the merge (as version 4), then forward to the split again (version 5)
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Done in .* \(undo\)")).first).to_be_visible()
        expect(headings).to_have_count(2)
        chat.fill("go back to version 3")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Done in .* \(back to version 3\)")).first).to_be_visible()
        expect(headings).to_have_count(3)
        expect(page.get_by_role("tab", name="Clusters")).to_be_in_viewport()

        page.get_by_role("button", name=re.compile(r"^Open .+: \d+ image")).first.click()
        thumbnails = results.get_by_test_id("stImage")
        expect(thumbnails.first).to_be_visible()
        # named relative to the samples' folder (cifar10/..., imagenet/...), cut to 12 characters: "cifa…10_05_6"
        thumbnails_names = results.get_by_role("button", name=re.compile(r"^(cifa|imag)"))
        expect(thumbnails_names.first).to_be_visible()
        shown = thumbnails_names.all_inner_texts()
        assert len(set(shown)) == len(shown) > 1
        thumbnails_names.first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Description (Step 1):")).to_be_visible()
        expect(dialog.get_by_text(re.compile(r"^1 of \d+ in"))).to_be_visible()
        dialog.get_by_role("button", name="Next ›").click()
        expect(dialog.get_by_text(re.compile(r"^2 of \d+ in"))).to_be_visible()
        dialog.get_by_text(re.compile(r"Step 3 · assign · text-model")).click()
        page.screenshot(path=str(ARTIFACTS / "ui-details.png"))
        page.keyboard.press("Escape")

        page.reload()  # after the work: chat, images and clusters come back
        expect(page.get_by_text(re.compile(r"^\d+ earlier message"))).to_be_visible()  # the older chat, folded
        expect(page.get_by_text(re.compile(r"Done in .* \(back to version 3\)")).first).to_be_visible()
        expect(headings).to_have_count(3)
        page.wait_for_timeout(1000)
        expect(page.get_by_role("tab", name="Clusters")).to_be_in_viewport()  # a reload lands at the top
        page.screenshot(path=str(ARTIFACTS / "ui-reloaded.png"))

        page.set_viewport_size({"width": 800, "height": 900})
        page.reload()
        expect(headings).to_have_count(3)
        page.get_by_role("button", name=re.compile(r"^Open .+: \d+ image")).first.click()
        page.wait_for_timeout(1500)  # the click's rerun settled: a thumbnail of the page before may be replaced
        expect(thumbnails.first).to_be_visible()
        box = thumbnails.first.bounding_box()
        assert box is not None and box["width"] >= 90  # not ~45 px thumbnails at 800 px
        assert page.locator("[data-testid='stSidebar']").bounding_box()["width"] < 100  # folded away
        page.wait_for_timeout(1500)  # the page's rerun settled (no faded elements of the one before)
        page.mouse.move(400, 600)
        page.mouse.wheel(0, 1500)  # down the one cluster's grid: the status line sticks at the top
        expect(page.locator(".st-key-statusline")).to_be_in_viewport()
        page.screenshot(path=str(ARTIFACTS / "ui-800.png"))

        page.get_by_role("tab", name="Export").click()
        page.get_by_role("button", name="Prepare zip (one folder per cluster)").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download zip").click()
        saved = tmp_path / "clusters.zip"
        download.value.save_as(saved)
        browser.close()
    files = zipfile.ZipFile(saved).namelist()
    assert len({n.split("/")[0] for n in files if "/" in n}) == 3
    assert sum(n.endswith((".png", ".jpg")) for n in files) == 40
    assert (ARTIFACTS / "ui-clusters.png").stat().st_size > 10_000
