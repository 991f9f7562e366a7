"""A "Run in Google Colab" link next to each tutorial's downloads.

Colab opens notebooks from GitHub: the publishing workflow pushes build/html
to ``colab_branch`` of ``colab_repository``, where each notebook is at its
download link's path. Not a workaround: sphinx-gallery makes Binder and
JupyterLite links, not Colab ones.
"""

from docutils import nodes
from sphinx import addnodes


def add_colab_link(app, doctree, docname):
    repository = app.config.colab_repository
    owner_repo = repository.removeprefix("https://github.com/").strip("/")
    for download in list(doctree.findall(addnodes.download_reference)):
        filename = download.get("filename", "")
        if not filename.endswith(".ipynb"):
            continue
        url = (
            f"https://colab.research.google.com/github/{owner_repo}/blob/"
            f"{app.config.colab_branch}/_downloads/{filename}"
        )
        # Styled as sphinx-gallery's download buttons: a literal of class
        # "download" (its CSS drops the code pill inside the button).
        label = nodes.literal(text="Run in Google Colab", classes=["download"])
        link = nodes.reference("", "", label, refuri=url, internal=False)
        box = nodes.container(classes=["sphx-glr-download", "sphx-glr-download-colab"])
        box += nodes.paragraph("", "", link)
        container = download.parent
        footer = "sphx-glr-footer"
        while container is not None and footer not in container.get("classes", []):
            container = container.parent
        if container is None:
            raise ValueError(f"{docname}: no download footer for the Colab link")
        container += box


def setup(app):
    app.add_config_value("colab_repository", "", "html")
    app.add_config_value("colab_branch", "gh-pages", "html")
    app.connect("doctree-resolved", add_colab_link)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
