"""Open the built HTML in headless Chromium and check that key pages render.

Usage: python docs/check_rendering.py [docs/_build/html] [--shots DIR]

Takes screenshots of the front page, one gallery page and one API page, and fails (exit 1)
unless each screenshot shows a real page (enough non-background pixels, several colours) and
each page holds what it should (the gallery page a figure that loaded, the API page the
class's parameters). Needs Debian's ``chromium`` (``apt-get install chromium``).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

PAGES = {
    "front page": ("index.html", ["tensorly_das", "Getting started", "Gallery", "landing-figure",
                                  "bd-sidebar", "bd-header"]),
    "gallery page": ("auto_examples/plot_covid_completion.html", ["sphx-glr-single-img", "held-out R^2"]),
    "API page": ("generated/tensorly_das.CPCompletion.html", ["CPCompletion", "Parameters", "early_stopping"]),
}
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,1600"]


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("check_rendering: no chromium found (apt-get install chromium)")


def screenshot(browser, url, png, profile):
    cmd = [browser, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", url]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def looks_rendered(png):
    import matplotlib.image as mpimg
    import numpy as np

    pixels = mpimg.imread(png)[..., :3]
    background = np.all(pixels > 0.97, axis=-1)
    colours = len(np.unique((pixels[::4, ::4] * 15).round().reshape(-1, 3), axis=0))
    return (~background).mean(), colours


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", default=os.path.join(os.path.dirname(__file__), "_build", "html"))
    parser.add_argument("--shots", default=None, help="keep the screenshots in this folder")
    args = parser.parse_args()
    browser = chromium()
    shots = args.shots or tempfile.mkdtemp(prefix="tensorly-das-shots-")
    os.makedirs(shots, exist_ok=True)
    failures = []
    with tempfile.TemporaryDirectory() as profile:
        for name, (page, needles) in PAGES.items():
            path = os.path.abspath(os.path.join(args.html, page))
            if not os.path.exists(path):
                failures.append(f"{name}: {page} was not built")
                continue
            text = open(path, encoding="utf-8").read()
            missing = [n for n in needles if n not in text]
            png = os.path.join(shots, page.replace("/", "_").replace(".html", ".png"))
            screenshot(browser, "file://" + path, png, profile)
            ink, colours = looks_rendered(png)
            status = "ok" if not missing and ink > 0.02 and colours > 8 else "FAILED"
            print(f"{name:<14}{page:<48}ink {ink:6.1%}  colours {colours:4d}  {status}  {png}")
            if missing:
                failures.append(f"{name}: {page} lacks {missing}")
            if ink <= 0.02 or colours <= 8:
                failures.append(f"{name}: the screenshot looks blank (ink {ink:.1%}, {colours} colours)")
        gallery_html = os.path.join(args.html, PAGES["gallery page"][0])
        if os.path.exists(gallery_html):
            import re

            images = re.findall(r'<img[^>]+src="([^"]+\.png)"', open(gallery_html, encoding="utf-8").read())
            base = os.path.dirname(gallery_html)
            if not images or not all(os.path.getsize(os.path.join(base, src)) > 5000 for src in images):
                failures.append(f"gallery page: figure files missing or empty ({images})")
    for failure in failures:
        print("check_rendering:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
