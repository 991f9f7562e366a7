"""Write build/html/sitemap.xml: one URL for every page made from a source.

Replaces sphinx-sitemap 2.9, which collects page names as they are written:
under ``sphinx-build -j auto`` the pages written by forked processes never
reached its queue, and the sitemap listed only the pages the main process
wrote (genindex, search and 404, none of which belongs in a sitemap). Here the
list comes from the sources Sphinx read, once, in the main process, after the
build: the tutorials, the gallery indexes and the hand-written pages.

Upstream: sphinx-sitemap also lists only the pages written by the build at
hand, so an incremental build writes a sitemap of the few pages that
changed: https://github.com/jdillard/sphinx-sitemap/issues/13 (open). This
module can go when a sphinx-sitemap release lists every page under
``sphinx-build -j auto`` and after an incremental build.
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
