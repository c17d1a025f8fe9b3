"""The verification page in a real headless browser (Debian chromium driven by Playwright).

One browser session uploads a signed image, its stripped copy, a forged copy (the watermark
residual copied onto another photo), an unmarked photo, a non-image and a photo carrying a
registered concept (the server has a registry), and checks what the page shows. Screenshots go to $PROVMARK_SCREENSHOTS (e.g. docs/screenshots) or a temp folder.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

pytest.importorskip("fastapi", reason="the [serve] extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
if not Path(CHROMIUM).exists():
    pytest.skip("Debian chromium is not installed (scripts/setup.sh installs it)", allow_module_level=True)


def test_page_shows_the_verdict_for_each_kind_of_image(service, samples, concept_marked, tmp_path: Path) -> None:
    shots = Path(os.environ.get("PROVMARK_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    uploads = [
        ("signed.jpg", samples.signed, "image/jpeg", "ai", "AI-generated, signed by Service Test Org", "intact"),
        ("stripped.png", samples.stripped, "image/png", "ai", "provenance recovered through the watermark", "matches the signed image"),
        ("forged.png", samples.forged, "image/png", *(
            ("copied", "possible copied watermark", "DIFFERS from the signed image") if samples.forged_carries_mark
            else ("none", "No provenance found", "Detected")
        )),
        ("unmarked.jpg", samples.unmarked, "image/jpeg", "none", "No provenance found", "Detected"),
        ("concepts.jpg", concept_marked, "image/jpeg", "concepts", "Carries registered concepts: red-fox (Fox Agency)", "CC-BY-4.0"),
        ("notes.txt", b"not an image\n" * 10, "text/plain", "error", "not an image file", None),
    ]
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = browser.new_page(viewport={"width": 980, "height": 760})
            failed: list[str] = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto(service.url + "/")
            assert page.title() == "provmark: check an image"
            for name, data, mime, kind, text, detail in uploads:
                page.set_input_files("#file", files=[{"name": name, "mimeType": mime, "buffer": data}])
                page.wait_for_function(
                    "n => document.getElementById('status').textContent === n "
                    "|| document.getElementById('headline').dataset.kind === 'error'",
                    arg=name,
                    timeout=60_000,
                )
                headline = page.locator("#headline")
                assert headline.get_attribute("data-kind") == kind, (name, headline.inner_text())
                assert text in headline.inner_text(), (name, headline.inner_text())
                if detail is not None:
                    assert detail in page.locator("#sections").inner_text(), name
                    assert page.locator("#s-concepts").count() == 1, name  # the server has a registry
                    assert page.locator("#preview").evaluate("img => img.complete && img.naturalWidth > 0")
                if kind in ("ai", "copied"):  # a manifest was found: the page shows what was signed beside the upload
                    page.wait_for_selector("#signed-fig:not([hidden])", timeout=30_000)
                    assert page.locator("#signed").evaluate("img => img.naturalWidth") == 256
                else:
                    assert page.locator("#signed-fig").get_attribute("hidden") is not None
                _save_small(page.screenshot(), shots / f"page-{Path(name).stem}.png")
            assert not failed, failed  # no request left the page unanswered (and none went elsewhere)
        finally:
            browser.close()
    assert {f"page-{Path(u[0]).stem}.png" for u in uploads} <= {p.name for p in shots.glob("page-*.png")}


def _save_small(png: bytes, path: Path) -> None:
    """A screenshot in 64 colours (a few tens of KB, small enough for the docs)."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(64, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
