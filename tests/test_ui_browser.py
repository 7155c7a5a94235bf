"""The whole loop in a real browser: `ictc ui` (a real Streamlit server, endpoint backend) against the
loopback fake OpenAI server, driven by Playwright in Debian's chromium: choose the images, type the
criterion in the chat, wait for the galleries, refine, open an image's traces, download the zip.
Screenshots go to test-artifacts/ (git-ignored). Skipped only when chromium is not installed."""

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
    with FakeOpenAIServer() as server:
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


def test_the_whole_loop_in_chromium_on_the_sample_photos(app_url, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        expect.set_options(timeout=60_000)
        page.goto(app_url)

        page.get_by_role("button", name="Use the sample photos").click()  # CIFAR-10 + ImageNet, 40 photos
        expect(page.get_by_text("40 images: sample photos (both) (with labels: metrics on)")).to_be_visible()

        chat = page.get_by_test_id("stChatInputTextArea")
        chat.fill("group these by colour, 3 groups")
        chat.press("Enter")
        expect(page.get_by_text("Say go to run it, or correct me.")).to_be_visible()
        chat.fill("go")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Done in .* \(first run\)"))).to_be_visible()
        clusters = page.get_by_role("tabpanel").first  # the Clusters tab
        headings = clusters.get_by_role("heading", name=re.compile(r"\d\. .+ · \d+"))
        expect(headings).to_have_count(3)
        found = [re.search(r"\d\. (.+) · (\d+)", h).groups() for h in headings.all_inner_texts()]
        names, sizes = [name for name, _ in found], [int(size) for _, size in found]
        assert sum(sizes) == 40
        expect(clusters.get_by_test_id("stImage")).to_have_count(sum(min(24, s) for s in sizes))
        page.screenshot(path=str(ARTIFACTS / "ui-clusters.png"), full_page=True)
        page.get_by_text("group these by colour, 3 groups").first.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "ui-chat.png"), full_page=True)

        chat.fill("instruction 3 Prefer warm colours.")
        chat.press("Enter")
        expect(page.get_by_text("redoes Step 3 on 40 images only")).to_be_visible()
        chat.fill("go")
        chat.press("Enter")
        expect(page.get_by_text(re.compile(r"Done in .*Prefer warm colours"))).to_be_visible()
        expect(page.get_by_text(re.compile("Model calls by step: describe 0, label 0, name_clusters 0, assign \\d+"))
               ).to_be_visible()

        page.get_by_role("button", name="Details").first.click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Description (Step 1):")).to_be_visible()
        dialog.get_by_text(re.compile(r"Step 3 · assign · text-model")).click()
        prompt = dialog.get_by_text(re.compile("Prefer warm colours")).first
        expect(prompt).to_be_visible()
        prompt.scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "ui-trace.png"), full_page=True)
        page.keyboard.press("Escape")

        page.get_by_role("tab", name="Export").click()
        page.get_by_role("button", name="Prepare zip (one folder per cluster)").click()
        with page.expect_download() as download:
            page.get_by_role("button", name="Download zip").click()
        saved = tmp_path / "clusters.zip"
        download.value.save_as(saved)
        browser.close()
    files = zipfile.ZipFile(saved).namelist()
    assert {n.split("/")[0] for n in files if "/" in n} == set(names)
    assert sum(n.endswith((".png", ".jpg")) for n in files) == 40
    assert (ARTIFACTS / "ui-clusters.png").stat().st_size > 10_000
