"""docs/_ext/page_html.py: each step on a small piece of HTML, in and out,
and the hook that runs them on one page."""

import struct
import zlib
from pathlib import Path
from types import SimpleNamespace

import page_html
from sphinx.highlighting import PygmentsBridge

FIGURE = (
    '<img src="../_images/fig_001.png" srcset="../_images/fig_001.png, '
    '../_images/fig_001_2_00x.png 2.00x" alt="a > b" class = "sphx-glr-single-img"/>'
)


def write_png(path: Path, width: int, height: int) -> Path:
    """A valid PNG of WIDTH x HEIGHT black pixels."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grey
    pixels = zlib.compress(b"".join(b"\0" + b"\0" * width for _ in range(height)))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", pixels)
        + chunk(b"IEND", b"")
    )
    return path


# -- Head ------------------------------------------------------------------------


def test_fonts_used_are_those_of_the_katex_classes_present():
    maths = (
        '<span class="katex"><span class="mord mathnormal">x</span>'
        '<span class="mord mathbf">v</span>'
        '<span class="mop op-symbol small-op">∑</span></span>'
    )
    assert page_html.fonts_used(maths) == [
        "KaTeX_Main-Regular",
        "KaTeX_Math-Italic",
        "KaTeX_Main-Bold",
        "KaTeX_Size1-Regular",
    ]
    assert page_html.fonts_used('<p class="mathbf-like">no maths</p>') == []


def test_maths_in_a_collapsed_section_of_the_navigation_is_not_drawn():
    tree = (
        '<ul><li class="has-children"><a>Open</a>'
        '<input class="toctree-checkbox" type="checkbox" checked="">'
        '<ul><li><span class="katex">a</span></li></ul></li>'
        '<li class="has-children"><a>Closed</a>'
        '<input class="toctree-checkbox" type="checkbox">'
        '<ul><li><span class="mathcal">b</span></li></ul></li></ul>'
    )
    shown = page_html.shown_navigation(tree)
    assert "katex" in shown and "mathcal" not in shown


def test_preloads_follow_the_metatags():
    out = page_html.preload_fonts('<meta name="a">', ["f/KaTeX_Main-Regular.woff2"])
    assert out == (
        '<meta name="a">\n<link rel="preload" href="f/KaTeX_Main-Regular.woff2"'
        ' as="font" type="font/woff2" crossorigin>'
    )


def test_a_page_keeps_only_the_assets_it_uses():
    sheet = SimpleNamespace(filename="mystnb.0123abcd.css")
    assert not page_html.used(sheet, "<p>text</p>")
    assert page_html.used(sheet, '<div class="cell docutils container">')
    assert not page_html.used("sg-tags.js", '<div class="sphx-glr-thumbcontainer">')
    assert page_html.used("sg-tags.js", '<div data-sgtags="[]">')
    assert page_html.used(SimpleNamespace(filename="styles/furo.css"), "")


# -- Body steps ------------------------------------------------------------------


def test_images_get_their_files_width_and_height(tmp_path):
    png = write_png(tmp_path / "_images" / "fig_001.png", 3, 2)
    assert page_html.png_size(png) == (3, 2)
    sizes = {"../_images/fig_001.png": (3, 2)}
    out = page_html.size_images(FIGURE, sizes)
    assert out == FIGURE[:-2] + ' width="3" height="2"/>'
    already = '<img src="../_images/fig_001.png" width="10">'
    unknown = '<img src="logo.svg">'
    assert page_html.size_images(already + unknown, sizes) == already + unknown


def test_an_image_not_yet_copied_is_found_among_the_sources(tmp_path):
    out, src = tmp_path / "html", tmp_path / "docs"
    copied = write_png(out / "_images" / "a.png", 1, 1)
    source = write_png(src / "auto_examples" / "images" / "b.png", 1, 1)
    page_dir = out / "auto_examples"
    assert page_html.find_image("../_images/a.png", page_dir, src) == copied
    assert page_html.find_image("../_images/b.png", page_dir, src) == source
    assert page_html.find_image("../_images/c.png", page_dir, src) is None


def test_figures_carry_their_smallest_text_size():
    out = page_html.note_text_sizes(FIGURE, {"../_images/fig_001.png": "12.5"})
    assert out.endswith(' data-text-px="12.5"/>')
    assert page_html.note_text_sizes(FIGURE, {}) == FIGURE


def test_a_figure_links_to_its_largest_file_and_a_thumbnail_does_not():
    thumb = '<img alt="" src="../_images/x_thumb.png" />'
    assert page_html.link_full_size(FIGURE + thumb) == (
        f'<a class="full-size-figure" href="../_images/fig_001_2_00x.png">{FIGURE}</a>'
        + thumb
    )


def test_thumbnails_after_the_first_four_load_lazily():
    thumbs = [f'<img alt="" src="../_images/t{n}_thumb.png"/>' for n in range(6)]
    out = page_html.lazy_thumbnails(FIGURE + "".join(thumbs))
    assert out.count('loading="lazy"') == 2
    assert out.startswith(FIGURE)
    assert out.endswith(
        '<img loading="lazy" alt="" src="../_images/t4_thumb.png"/>'
        '<img loading="lazy" alt="" src="../_images/t5_thumb.png"/>'
    )


def furo_styles():
    return [
        PygmentsBridge("html", name).formatter_args["style"]
        for name in ("a11y-light", "native")
    ]


def test_code_loses_only_the_spans_drawn_like_plain_code():
    plain = page_html.plain_token_classes(furo_styles())
    assert {"n", "p", "w"} <= plain and "k" not in plain and "s1" not in plain
    code = (
        '<span class="k">import</span><span class="w"> </span>'
        '<a href="https://x/torch.html"><span class="n">torch</span></a>'
        '<span class="p">(</span><span class="s1">&#39;a&#39;</span>'
        '<span class="p">)</span>'
    )
    assert page_html.unwrap_plain_spans(code, plain) == (
        '<span class="k">import</span> <a href="https://x/torch.html">torch</a>'
        '(<span class="s1">&#39;a&#39;</span>)'
    )


TABLE = (
    "<table><thead><tr><th><p>shape <code>J</code></p></th><th>A &amp; B</th></tr>"
    "</thead><tbody><tr><td>(N, 3)</td><td>x</td></tr>"
    "<tr><td>(3,)</td><td>y</td></tr></tbody></table>"
)


def test_table_cells_carry_the_name_of_their_column():
    out = page_html.label_table_cells(TABLE)
    assert out.count('<td data-label="shape J">') == 2
    assert out.count('<td data-label="A &amp; B">') == 2
    headless = "<table><tbody><tr><td>1</td></tr></tbody></table>"
    assert page_html.label_table_cells(headless) == headless


def code(text: str, classes: str = "docutils literal notranslate") -> str:
    words = " ".join(f'<span class="pre">{word}</span>' for word in text.split())
    return f'<code class="{classes}">{words}</code>'


def test_short_inline_code_with_spaces_is_kept_whole():
    short, word, long = code("(4, 3, 4, 2)"), code("torch.func.vjp"), code("x " * 21)
    out = page_html.keep_short_literals_whole(short + word + long)
    unbroken = "docutils literal notranslate unbroken"
    assert out == code("(4, 3, 4, 2)", unbroken) + word + long


def test_long_dotted_names_in_card_titles_break_at_their_dots():
    title = "Every argument of torch.autograd.functional.vjp, and torch.func"
    outside = "<p>torch.autograd.functional.vjp</p>"
    out = page_html.break_card_titles(
        f'<div class="sphx-glr-thumbnail-title">{title}</div>{outside}'
    )
    assert "torch.<wbr>autograd.<wbr>functional.<wbr>vjp, and" in out
    assert "and torch.func<" in out, "a short name moves whole, as a word"
    assert out.endswith(outside), "only card titles"


def test_the_tag_list_id_once_per_page():
    tag_list = "<div id='sg-tag-list' class='sphx-glr-tag-list'></div>"
    out = page_html.one_tag_list(tag_list * 3)
    assert out.startswith(tag_list) and out.count("id='sg-tag-list'") == 1
    assert page_html.one_tag_list("<p>none</p>") == "<p>none</p>"


CAPTION = '<p class="caption" role="heading"><span>Tutorials</span></p>'


def test_toctree_captions_have_a_heading_level():
    assert page_html.caption_levels(CAPTION) == (
        '<p class="caption" role="heading" aria-level="2"><span>Tutorials</span></p>'
    )


# -- The hook --------------------------------------------------------------------


def test_the_hook_runs_every_step_on_a_page(tmp_path):
    out, src = tmp_path / "html", tmp_path / "docs"
    write_png(out / "_images" / "fig_001.png", 4, 3)
    write_png(out / "_images" / "fig_001_2_00x.png", 8, 6)
    light = PygmentsBridge("html", "a11y-light")
    app = SimpleNamespace(
        outdir=str(out),
        srcdir=str(src),
        builder=SimpleNamespace(highlighter=light),
        config=SimpleNamespace(pygments_dark_style="native"),
    )
    maths = '<span class="katex"><span class="mord mathnormal">x</span></span>'
    body = FIGURE + '<span class="n">f</span>' + TABLE + code("(f, x)") + maths
    tag_list = "<div id='sg-tag-list' class='sphx-glr-tag-list'></div>"
    title = '<div class="sphx-glr-thumbnail-title">torch.autograd.functional</div>'
    context = {
        "body": body + tag_list * 2 + title + CAPTION,
        "furo_navigation_tree": CAPTION,
        "metatags": "",
        "pathto": lambda name, resource: "../" + name,
        "css_files": [SimpleNamespace(filename="mystnb.0a.css"), "cookbook.css"],
        "script_files": ["sg-tags.js", "cookbook.js"],
    }
    page_html.rewrite(app, "auto_examples/page", "page.html", context, None)
    assert context["metatags"].count('rel="preload"') == 2
    assert [str(getattr(a, "filename", a)) for a in context["css_files"]] == [
        "cookbook.css"
    ]
    assert context["script_files"] == ["cookbook.js"]
    page = context["body"]
    assert 'width="4" height="3"' in page
    assert page.startswith(
        '<a class="full-size-figure" href="../_images/fig_001_2_00x.png">'
    )
    assert (
        '<span class="n">' not in page and "data-label=" in page and "unbroken" in page
    )
    assert page.count("sg-tag-list'") == 1 and "torch.<wbr>" in page
    assert (
        'aria-level="2"' in page and 'aria-level="2"' in context["furo_navigation_tree"]
    )
