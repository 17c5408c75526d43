#!/usr/bin/env python
"""How tall each figure's smallest text is on the site, for an executed notebook (committed or a copy).

    python scripts/figure_text.py /tmp/me/02_kernels_and_strides.ipynb   # one line per figure; exit 1 if any is under 8 px

A figure shown after `import cnn_course.core` records its smallest font size in its PNG (`record_text_sizes`). On
the site a figure wider than the text column (about 670 px at a 1280-px window) is scaled down to it, so its
smallest text is `pt × dpi/72 × min(1, 670/width)` pixels tall; tests/test_pages.py requires at least 8. Figures
made before that recording existed show `?`, with the height 10-point text (matplotlib's default) would have.
"""
import base64, io, json, sys
from pathlib import Path
from PIL import Image

TEXT_COLUMN_PX, MIN_TEXT_PX, TEXT_SIZE_KEY = 670, 8, 'cnn-course:smallest-text-pt'


def figures(nb):
    "(cell index, last source line, PNG) of each picture output."
    for i, c in enumerate(nb['cells']):
        for o in c.get('outputs', []):
            b64 = o.get('data', {}).get('image/png')
            if b64:
                src = ''.join(c['source']).strip().splitlines()
                yield i, (src[-1] if src else '')[:70], Image.open(io.BytesIO(base64.b64decode(''.join(b64))))


def main(paths):
    small = 0
    for path in paths:
        print(path)
        for i, line, png in figures(json.loads(Path(path).read_text())):
            dpi, width = png.info.get('dpi', (72, 72))[0], png.size[0]
            pt = png.text.get(TEXT_SIZE_KEY) if hasattr(png, 'text') else None
            px = float(pt or 10) * dpi/72 * min(1, TEXT_COLUMN_PX/width)
            flag = 'SMALL' if px < MIN_TEXT_PX else 'ok   '
            small += px < MIN_TEXT_PX
            print(f"  {flag} cell {i:3d}: {px:4.1f} px ({pt or '?'} pt, {width} px wide at {dpi:.0f} dpi)  {line}")
    return 1 if small else 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
