"""The digest email checked the way mail clients treat it: in headless Chromium with every
<style> removed (as Gmail's app for other accounts and several webmails do) at phone and
desktop widths, with images blocked; colour contrast in light, dark and Outlook's dark
mode; the caniemail data (npm `doiuse-email`); Debian's SpamAssassin on a sent digest;
and a broken custom template stopping `digest init`, `serve` and `worker` at start-up.

`scripts/ensure-test-deps.sh` installs chromium, spamassassin and doiuse-email (into
.cache/node); a missing one skips locally and fails under CI=true.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from digest.render.edition import Mailing, personalize, render_edition
from digest.runtime.showcase import SHOWCASE

ROOT = Path(__file__).resolve().parents[2]
DOIUSE = ROOT / ".cache" / "node" / "node_modules" / "doiuse-email" / "index.js"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLIENTS = ["gmail.*", "apple-mail.*", "outlook.outlook-com", "yahoo.*"]
WCAG_AA = 4.5


def unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def without_style(html: str) -> str:
    return re.sub(r"<style\b[^>]*>.*?</style>", "", html, flags=re.S | re.I)


@pytest.fixture(scope="module")
def copy_html() -> str:
    mailing = Mailing(
        sender="Lakeside Weekly <digest@news.lakeside.example>",
        postal_address="Lakeside Weekly, 4 Harbour Row, 1234 Lakeside",
    )
    html, _ = personalize(
        render_edition(SHOWCASE, ROOT / "templates", mailing=mailing),
        name="Noor",
        unsubscribe_url="https://news.lakeside.example/unsubscribe/tok",
        preferences_url="https://news.lakeside.example/preferences/tok",
    )
    return html


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        unavailable("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def open_page(browser: Any, html: str, width: int, scheme: str = "light") -> Any:
    """The email in a page of this width; every request (the images) is refused."""
    page = browser.new_page(viewport={"width": width, "height": 800}, color_scheme=scheme)
    page.route("**/*", lambda route: route.abort())
    page.set_content(html, wait_until="load")
    return page


BOXES = """(selector) => [...document.querySelectorAll(selector)]
  .map((e) => {
    const r = e.getBoundingClientRect();
    const s = getComputedStyle(e);
    return {text: e.textContent.trim(), left: r.left, right: r.right, width: r.width,
            height: r.height, visible: s.visibility === 'visible' && s.display !== 'none'};
  })"""


@pytest.mark.parametrize("width", [375, 700])
def test_the_layout_holds_without_style_with_images_blocked(
    browser: Any, copy_html: str, width: int
) -> None:
    page = open_page(browser, without_style(copy_html), width)
    try:
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"horizontal scrolling: {scroll} px in a {width} px window"
        for selector in ("h1", "h2", ".preheader", ".meta", ".summary", "a", ".footer", "img"):
            boxes = page.evaluate(BOXES, selector)
            assert boxes, selector
            for box in boxes:
                assert box["visible"] and box["width"] > 0 and box["height"] > 0, (selector, box)
                assert box["left"] >= 0 and box["right"] <= width + 0.5, (selector, box)
        headlines = [b["text"] for b in page.evaluate(BOXES, "h2.headline")]
        assert headlines == [i.title for i in SHOWCASE.items]
        summaries = [b["text"] for b in page.evaluate(BOXES, ".summary")]
        assert summaries == [i.summary for i in SHOWCASE.items]
        links = {b["text"] for b in page.evaluate(BOXES, "a")}
        assert {"Unsubscribe", "Change your preferences", "Read the full edition on the web"} <= (
            links
        )
        # Right-to-left items read right to left, and start at the right edge, the others
        # at the left, whatever the list's direction.
        directions = page.evaluate(
            """() => [...document.querySelectorAll('h2.headline')].map((h) => {
                const cell = h.closest('td').getBoundingClientRect();
                const text = document.createRange();
                text.selectNodeContents(h);
                const r = text.getBoundingClientRect();
                return [getComputedStyle(h).direction, r.left - cell.left, cell.right - r.right];
            })"""
        )
        for story, (way, from_left, from_right) in zip(SHOWCASE.items, directions, strict=True):
            rtl = story.language in ("ar", "he")
            assert way == ("rtl" if rtl else "ltr"), story.title
            assert (from_right if rtl else from_left) < (from_left if rtl else from_right)
        # The column is at most 600 px wide, centred, on the desktop.
        sheet = page.evaluate(BOXES, ".sheet")[0]
        assert sheet["width"] <= 600 and (width < 600 or sheet["left"] > 0)
    finally:
        page.close()


def test_on_a_phone_the_greeting_lines_up_with_the_articles(browser: Any, copy_html: str) -> None:
    page = open_page(browser, copy_html, 375)
    try:
        left = {
            selector: page.evaluate(BOXES, selector)[0]["left"]
            for selector in (".title", ".greeting", "h2.headline", ".footer-cell .footer")
        }
        assert left[".greeting"] == left[".title"] == left["h2.headline"] == 16, left
        assert page.evaluate(BOXES, "img")[0]["width"] == 80  # smaller thumbnails
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        page.close()


COLOURS = """() => {
  const rgb = (c) => c.match(/[\\d.]+/g).map(Number);
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
    }
    return null;
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    const text = walker.currentNode.textContent.trim();
    if (!text) continue;
    found.push({text: text.slice(0, 50), color: rgb(getComputedStyle(el).color).slice(0, 3),
                background: background(el)});
  }
  return found;
}"""


def luminance(rgb: list[float]) -> float:
    def channel(value: float) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(v) for v in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_ratio_formula() -> None:
    assert round(contrast([0, 0, 0], [255, 255, 255]), 1) == 21.0
    assert round(contrast([118, 118, 118], [255, 255, 255]), 2) == 4.54
    assert contrast([200, 200, 200], [255, 255, 255]) < WCAG_AA


@pytest.mark.parametrize("mode", ["light", "dark", "outlook-dark"])
def test_every_text_keeps_a_contrast_of_4_5(browser: Any, copy_html: str, mode: str) -> None:
    scheme = "dark" if mode == "dark" else "light"
    page = open_page(browser, copy_html, 700, scheme)
    try:
        if mode == "outlook-dark":
            # Outlook.com marks the message it recolours with these attributes.
            page.evaluate(
                "for (const a of ['data-ogsc', 'data-ogsb'])"
                " document.documentElement.setAttribute(a, '')"
            )
        texts = page.evaluate(COLOURS)
        assert len(texts) > 40
        backgrounds = {tuple(t["background"]) for t in texts}
        if mode != "light":
            assert all(luminance(list(b)) < 0.05 for b in backgrounds), backgrounds
        poor = [
            (
                t["text"],
                t["color"],
                t["background"],
                round(contrast(t["color"], t["background"]), 2),
            )
            for t in texts
            if contrast(t["color"], t["background"]) < WCAG_AA
        ]
        assert poor == [], poor
    finally:
        page.close()


def test_every_client_supports_what_the_style_free_html_uses(
    copy_html: str, tmp_path: Path
) -> None:
    node = shutil.which("node")
    if node is None or not DOIUSE.is_file():
        unavailable("doiuse-email is not installed (bash scripts/ensure-test-deps.sh)")
    page = tmp_path / "digest.html"
    page.write_text(without_style(copy_html), encoding="utf-8")
    script = (
        f"import {{ doIUseEmail }} from {json.dumps(DOIUSE.as_uri())};"
        "import fs from 'node:fs';"
        "const html = fs.readFileSync(process.argv[1], 'utf8');"
        f"const options = {{ emailClients: {json.dumps(CLIENTS)} }};"
        "console.log(JSON.stringify(doIUseEmail(html, options)));"
    )
    result = subprocess.run(
        [node, "--input-type=module", "-e", script, str(page)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(result.stdout)
    errors = report.get("errors", [])
    # Yahoo's apps drop <body> for every message; the layout does not rely on it.
    assert [e for e in errors if not e.startswith("`<body> element`")] == []
    assert errors, "the checker found not even the <body> element: was it given the email?"


def test_spamassassin_scores_a_sent_digest_as_clean(tmp_path: Path) -> None:
    binary = shutil.which("spamassassin")
    if binary is None:
        unavailable("spamassassin is not installed (apt-get install spamassassin)")
    sys.path.insert(0, str(Path(__file__).parent))
    from test_golden import GOLDEN, run_case

    case = tomllib.loads((GOLDEN / "lakeside" / "case.toml").read_text(encoding="utf-8"))
    case["settings"] = {
        **case.get("settings", {}),
        "postal_address": "Lakeside Weekly, 4 Harbour Row, 1234 Lakeside",
    }
    # SQLite only: the database just carries the case to the message (test_golden runs both).
    _, raw, _ = run_case(
        GOLDEN / "lakeside", case, f"sqlite:///{tmp_path / 'digest.db'}", tmp_path / "outbox"
    )
    result = subprocess.run(
        [binary, "-L", "-t"],
        input=raw,
        capture_output=True,
        timeout=120,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    report = result.stdout.decode("utf-8", "replace")
    match = re.search(r"^X-Spam-Status: \w+, score=(-?[\d.]+)", report, flags=re.M)
    assert match is not None, report[-2000:] + result.stderr.decode()
    assert float(match.group(1)) <= 0.5, report.split("Content analysis details", 1)[-1]


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        (["init"], {}),
        (["serve", "--port", "0"], {}),
        (["worker"], {"DIGEST_BROKER_URL": "redis://127.0.0.1:9/0"}),
    ],
)
def test_a_broken_custom_template_stops_start_up(
    tmp_path: Path, command: list[str], extra: dict[str, str]
) -> None:
    custom = tmp_path / "custom"
    (custom / "email").mkdir(parents=True)
    (custom / "email" / "digest.html").write_text(
        "<p>{{ content.list_name }}</p>\n<p>{% if items %}</p>\n", "utf-8"
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    environ.update(PYTHONPATH=str(ROOT), COLUMNS="200", DIGEST_TEMPLATES_DIR=str(custom))
    result = subprocess.run(
        [sys.executable, "-m", "digest", *command],
        cwd=tmp_path,
        env={**environ, **extra},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: DIGEST_TEMPLATES_DIR: {custom / 'email' / 'digest.html'}, line 2: "
        "Unexpected end of template. Jinja was looking for the following tags: 'elif' or "
        "'else' or 'endif'. The innermost block that needs to be closed is 'if'."
    ], result.stderr
    assert not (tmp_path / "digest.db").exists()  # init changed nothing
