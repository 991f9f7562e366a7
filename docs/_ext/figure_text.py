"""Figures whose text is readable where furo shows them.

sphinx-gallery saves each matplotlib figure of an example as a PNG (and, with
``image_srcset = ["2x"]`` in conf.py, a second one at twice the resolution
for high-density screens). A page shows a figure at its own width in pixels,
or at the width of furo's content column (736 CSS px on a laptop) if it is
wider, so a figure 1000 px wide is shown at 74% of its size, and its 8 pt
labels (11 px) at 8 px.

This module is the image scraper conf.py names (``"figure_text"``): before
sphinx-gallery's own matplotlib scraper saves the figures, it measures each
figure's smallest text (tick labels, legends, titles, annotations) in CSS
pixels as shown in the column, and fails the example, naming the text and
what to change, when it is below ``SMALLEST_TEXT_PX``. Each figure's smallest
text size at full size is written beside its image, in a file
``<image>.text-px``; docs/_ext/page_html.py copies it into the page as
``data-text-px``, from which tests/test_browser.py computes the size a
reader sees at any width.

A scraper is sphinx-gallery's own extension point (``image_scrapers``); the
one workaround is the side file: sphinx-gallery's image directive writes the
first of an image's classes only (``sphinx_gallery/directives.py``,
``visit_imgsg_html``, 0.22.1), so a class that carried the size would
displace sphinx-gallery's own (``sphx-glr-single-img``).
"""

import re
from pathlib import Path

from matplotlib.text import Text
from sphinx_gallery.scrapers import matplotlib_scraper

# furo's content column at 1280 px and wider (measured in tests/test_browser.py)
COLUMN_PX = 736
# CSS px: the smallest tick or legend text a laptop reader should meet
SMALLEST_TEXT_PX = 11


def smallest_text(fig) -> tuple[float, str]:
    """(size in pixels of the saved figure, the text) of FIG's smallest visible text."""
    points_to_px = fig.dpi / 72
    texts = [
        text
        for text in fig.findobj(Text)
        if text.get_visible() and text.get_text().strip()
    ]
    return min(
        ((text.get_fontsize() * points_to_px, text.get_text()) for text in texts),
        default=(0.0, ""),
    )


def shown_scale(fig) -> float:
    return min(1.0, COLUMN_PX / (fig.get_figwidth() * fig.dpi))


def check_figures(figures) -> list[float]:
    """The smallest text size of each figure at full size; an error if it is
    shown too small."""
    sizes = []
    for number, fig in enumerate(figures, start=1):
        size, text = smallest_text(fig)
        if not text:  # a figure without text
            sizes.append(size)
            continue
        shown = size * shown_scale(fig)
        if shown < SMALLEST_TEXT_PX:
            raise ValueError(
                f"figure {number}: its text {text[:40]!r} is {size:.1f} px in the "
                f"saved figure, {fig.get_figwidth() * fig.dpi:.0f} px wide, so "
                f"{shown:.1f} CSS px in furo's {COLUMN_PX} px column (at least "
                f"{SMALLEST_TEXT_PX} needed): use a larger "
                f"font size or a narrower figure (figsize)"
            )
        sizes.append(size)
    return sizes


def scraper(block, block_vars, gallery_conf, **kwargs):
    import matplotlib.pyplot as plt

    try:
        sizes = check_figures([plt.figure(number) for number in plt.get_fignums()])
    except ValueError:
        plt.close(
            "all"
        )  # as sphinx-gallery's scraper does: the next example starts with none
        raise
    rst = matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)
    images = IMAGE.findall(rst)  # in the order of the figures
    assert len(images) == len(sizes), (images, sizes)
    for image, size in zip(images, sizes):
        sidecar(Path(gallery_conf["src_dir"], image.lstrip("/"))).write_text(
            f"{size:.1f}\n"
        )
    return rst


IMAGE = re.compile(r"image-sg:: (\S+)")


def sidecar(image: Path) -> Path:
    """The file beside IMAGE that holds its smallest text size, in px at full size."""
    return image.with_suffix(".text-px")


def _get_sg_image_scraper():
    """sphinx-gallery calls this when conf.py names the module in image_scrapers."""
    return scraper
