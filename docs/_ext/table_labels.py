"""Each table cell carries its column's name, for phones.

On a phone (docs/_static/cookbook.css, below 40em) a table's rows are
stacked: each row becomes a block and each cell a line of it, preceded by
its column's name, so no column is off-screen (the cheat sheet's shapes were,
at 390 px). CSS can show that name only from an attribute of the cell, so
this module copies each header cell's text into ``data-label`` on the body
cells below it, when a page is written. Tables without a header row are left
as they are.
"""

import html
import re

TABLE = re.compile(r"<table\b[^>]*>.*?</table>", re.S)
HEADER_CELL = re.compile(r"<th\b[^>]*>(.*?)</th>", re.S)
ROW = re.compile(r"<tr\b[^>]*>.*?</tr>", re.S)
BODY_CELL = re.compile(r"<td\b")
TAG = re.compile(r"<[^>]+>")


def labelled(table: str) -> str:
    head, found, body = table.partition("</thead>")
    if not found:
        return table
    names = [html.unescape(TAG.sub("", cell)).strip() for cell in HEADER_CELL.findall(head)]

    def label_row(row):
        cells = iter(names)
        return BODY_CELL.sub(lambda m: f'<td data-label="{html.escape(next(cells, ""))}"', row.group(0))

    return head + found + ROW.sub(label_row, body)


def label_tables(app, pagename, templatename, context, doctree):
    body = context.get("body")
    if body and "<thead" in body:
        context["body"] = TABLE.sub(lambda m: labelled(m.group(0)), body)


def setup(app):
    app.connect("html-page-context", label_tables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
