"""Screenshots of the digest email at phone and desktop widths, light and dark, into docs/.

    .venv/bin/python scripts/screenshots.py [--out docs] [--templates DIR]

Renders the showcase digest (digest/showcase.py: items in Latin, Arabic, Japanese, Hebrew
and Burmese script) with the templates, as a subscriber's copy, and photographs it in the
system's Chromium (Debian package `chromium`) through Playwright. The lead images are made
up on the spot (no network); fonts come from the system: install `fonts-noto-core` and
`fonts-noto-cjk` for every script to show.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digest.render.edition import Mailing, personalize, render_edition  # noqa: E402
from digest.runtime.showcase import SHOWCASE  # noqa: E402

WIDTHS = {"phone": 375, "desktop": 700}
SCHEMES = ("light", "dark")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def picture(url: str) -> str:
    """A landscape-ish SVG whose colours depend on the URL: a stand-in for a photo."""
    digest = hashlib.sha256(url.encode()).hexdigest()
    a, b = f"#{digest[:6]}", f"#{digest[6:12]}"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="300">'
        f'<defs><linearGradient id="g" x2="1" y2="1"><stop stop-color="{a}"/>'
        f'<stop offset="1" stop-color="{b}"/></linearGradient></defs>'
        '<rect width="400" height="300" fill="url(#g)"/>'
        '<circle cx="300" cy="90" r="40" fill="#fff" fill-opacity=".6"/></svg>'
    )


def subscriber_copy(templates: Path) -> str:
    mailing = Mailing(
        sender="Lakeside Weekly <digest@news.lakeside.example>",
        postal_address="Lakeside Weekly, 4 Harbour Row, 1234 Lakeside",
    )
    edition = render_edition(SHOWCASE, templates, mailing=mailing)
    html, _ = personalize(
        edition,
        name="Noor",
        unsubscribe_url="https://news.lakeside.example/unsubscribe/token",
        preferences_url="https://news.lakeside.example/preferences/token",
    )
    return html


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--templates", type=Path, default=ROOT / "templates")
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    from playwright.sync_api import Route, sync_playwright

    def fulfil(route: Route) -> None:
        if route.request.resource_type == "image":
            route.fulfill(content_type="image/svg+xml", body=picture(route.request.url))
        else:
            route.abort()

    html = subscriber_copy(args.templates)
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        for device, width in WIDTHS.items():
            for scheme in SCHEMES:
                page = browser.new_page(
                    viewport={"width": width, "height": 800},
                    color_scheme=scheme,  # type: ignore[arg-type]  # Playwright wants a Literal
                    device_scale_factor=1,
                )
                page.route("http*://**/*", fulfil)
                page.set_content(html, wait_until="load")
                path = args.out / f"email-{device}-{scheme}.png"
                page.screenshot(path=str(path), full_page=True)
                print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
                page.close()
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
