"""sphinx-gallery's image scraper (conf.py's ``image_scrapers``), with a check
that each figure's text is readable where furo shows it.

furo shows a figure at its width or at the content column's (736 CSS px on a
laptop) if wider: a figure 1000 px wide is shown at 74%, its 8 pt labels (11
px) at 8 px. Before sphinx-gallery's matplotlib scraper saves the figures,
each one's smallest text is measured, and the example fails, naming the text,
when it is shown below ``SMALLEST_TEXT_PX``. The size at full size is written
beside the image (``<image>.text-px``), for page_html.py to put in the page
(tests/test_browser.py reads it): sphinx-gallery's image directive keeps the
first of an image's classes only (``directives.py``, ``visit_imgsg_html``,
0.22.1), so a class could not carry it.
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


def check_figures(figures) -> list[float]:
    """The smallest text size of each figure at full size; an error if it is
    shown too small."""
    sizes = []
    for number, fig in enumerate(figures, start=1):
        size, text = smallest_text(fig)
        shown = size * min(1.0, COLUMN_PX / (fig.get_figwidth() * fig.dpi))
        if text and shown < SMALLEST_TEXT_PX:
            raise ValueError(
                f"figure {number}: its text {text[:40]!r} is {size:.1f} px in the "
                f"saved figure, {fig.get_figwidth() * fig.dpi:.0f} px wide, so "
                f"{shown:.1f} CSS px in furo's {COLUMN_PX} px column (at least "
                f"{SMALLEST_TEXT_PX} needed): use a larger font size or a "
                "narrower figure (figsize)"
            )
        sizes.append(size)
    return sizes


def scraper(block, block_vars, gallery_conf, **kwargs):
    import matplotlib.pyplot as plt

    try:
        sizes = check_figures([plt.figure(number) for number in plt.get_fignums()])
    except ValueError:
        # As sphinx-gallery's scraper does: the next example starts with none.
        plt.close("all")
        raise
    rst = matplotlib_scraper(block, block_vars, gallery_conf, **kwargs)
    images = re.findall(r"image-sg:: (\S+)", rst)  # in the order of the figures
    assert len(images) == len(sizes), (images, sizes)
    for image, size in zip(images, sizes):
        sidecar(Path(gallery_conf["src_dir"], image.lstrip("/"))).write_text(
            f"{size:.1f}\n"
        )
    return rst


def sidecar(image: Path) -> Path:
    """The file beside IMAGE that holds its smallest text size, in px at full size."""
    return image.with_suffix(".text-px")


def _get_sg_image_scraper():
    """sphinx-gallery calls this when conf.py names the module in image_scrapers."""
    return scraper
