"""Write build/html/sitemap.xml: one URL for every page made from a source.

Replaces sphinx-sitemap 2.9, which lists the pages as they are written: under
``-j auto`` only those the main process wrote (genindex, search, 404, which
belong in no sitemap), and after an incremental build only the few rewritten
(https://github.com/jdillard/sphinx-sitemap/issues/13, open). Here the list is
Sphinx's sources, read once after the build. This module can go when
sphinx-sitemap lists every page in both cases.
"""

from pathlib import Path
from xml.sax.saxutils import escape


def write_sitemap(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    base = app.config.html_baseurl.rstrip("/") + "/"
    urls = sorted(
        base + app.builder.get_target_uri(docname) for docname in app.env.found_docs
    )
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">',
    ]
    lines += [f"  <url><loc>{escape(url)}</loc></url>" for url in urls]
    lines.append("</urlset>")
    Path(app.outdir, "sitemap.xml").write_text(
        "\n".join(lines) + "\n", encoding="utf-8"
    )


def setup(app):
    app.connect("build-finished", write_sitemap)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
