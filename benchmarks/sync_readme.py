"""Copy saved benchmark outputs (docs/results/NAME.txt) into the README's marked blocks.

Run:  python -m benchmarks.sync_readme

A block in README.md looks like::

    <!-- results:NAME -->
    ```
    ...replaced by the contents of docs/results/NAME.txt...
    ```
    <!-- /results:NAME -->

so the README's tables are the scripts' output, never typed by hand.
"""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"(<!-- results:(?P<name>[\w-]+) -->\n).*?(\n<!-- /results:(?P=name) -->)", re.S)


def main():
    readme = ROOT / "README.md"
    text = readme.read_text()

    def fill(match):
        body = (ROOT / "docs" / "results" / f"{match['name']}.txt").read_text().rstrip()
        return f"{match.group(1)}```\n{body}\n```{match.group(3)}"

    new = BLOCK.sub(fill, text)
    readme.write_text(new)
    print(f"README.md: {len(BLOCK.findall(text))} result blocks filled")


if __name__ == "__main__":
    main()
