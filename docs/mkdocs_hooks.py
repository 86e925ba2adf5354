"""MkDocs hooks for the documentation site (see mkdocs.yml).

* The home page is README.md, read from the repository root, with its links
  into docs/ made relative to the site (``docs/arrays.md`` -> ``arrays.md``).
* Links to headings are written for GitHub, whose anchors keep every hyphen
  (`the-cli-annotations-and---shape`); they are mapped to the anchors MkDocs
  makes (`the-cli-annotations-and-shape`), so one text serves both.
* A link to a repository file outside docs/ (``../benchmarks/README.md``,
  ``samples/seeds.py``) has no page on the site: it is shown as the file's
  path, in code, so the site has no dead link and no link out of the
  repository.
"""

import os
import re

from markdown.extensions.toc import slugify
from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LINK = re.compile(r"(!?)\[([^\]]+)\]\(([^)\s]+)\)")
_IMAGES = "_repository"  # where images from outside docs/ are copied on the site


def on_files(files, config):
    """Add README.md as the site's home page, index.md, and the images that
    pages show from outside docs/ (benchmark plots)."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    files.append(File.generated(config, "index.md", content=text))
    docs_dir = os.path.abspath(config["docs_dir"])
    pages = [os.path.join(ROOT, "README.md")] + [
        os.path.join(docs_dir, f.src_uri) for f in files if f.src_uri.endswith(".md")
    ]
    seen = set()
    for page in pages:
        if not os.path.exists(page):
            continue
        with open(page, encoding="utf-8") as f:
            for bang, _, target in _LINK.findall(f.read()):
                where = os.path.normpath(os.path.join(os.path.dirname(page), target))
                inside = where.startswith(docs_dir + os.sep)
                if bang and not inside and os.path.isfile(where) and where not in seen:
                    seen.add(where)
                    with open(where, "rb") as img:
                        uri = f"{_IMAGES}/{os.path.relpath(where, ROOT)}"
                        files.append(File.generated(config, uri, content=img.read()))
    return files


def _outside_docs(page_path: str, target: str, docs_dir: str) -> str | None:
    """The repository path of a link's target when it is a file outside docs/."""
    path = target.split("#")[0]
    if not path or "://" in path or path.startswith("mailto:"):
        return None
    where = os.path.normpath(os.path.join(docs_dir, os.path.dirname(page_path), path))
    if where.startswith(docs_dir + os.sep) or where == docs_dir:
        return None
    return os.path.relpath(where, ROOT)


_HEADING = re.compile(r"^#{1,6} +(.+?) *#*$", re.M)


def _github_anchor(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped,
    each space a hyphen."""
    text = re.sub(r"[^\w\- ]", "", title.lower())
    return text.replace(" ", "-")


def _anchors(text: str) -> dict[str, str]:
    """GitHub's anchor -> MkDocs' anchor, for every heading of a page."""
    result = {}
    for title in _HEADING.findall(text):
        plain = re.sub(r"[`*]", "", re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title))
        result[_github_anchor(title.replace("`", ""))] = slugify(plain, "-")
    return result


def _page_text(docs_dir: str, uri: str) -> str:
    path = (
        os.path.join(ROOT, "README.md")
        if uri == "index.md"
        else os.path.join(docs_dir, uri)
    )
    with open(path, encoding="utf-8") as f:
        return f.read()


def on_page_markdown(markdown, page, config, files):
    docs_dir = os.path.abspath(config["docs_dir"])
    src = page.file.src_uri

    def link(m):
        bang, text, target = m.group(1), m.group(2), m.group(3)
        if src == "index.md":  # README.md's links are relative to the repository root
            if target.startswith("docs/"):
                target = target.removeprefix("docs/")
            elif "://" not in target and not target.startswith("#"):
                target = "../" + target
        outside = _outside_docs(src, target, docs_dir)
        if outside is None:
            path, _, anchor = target.partition("#")
            if not anchor:
                return f"{bang}[{text}]({target})"
            uri = (
                os.path.normpath(os.path.join(os.path.dirname(src), path))
                if path
                else src
            )
            if not os.path.exists(os.path.join(docs_dir, uri)) and uri != "index.md":
                return f"{bang}[{text}]({target})"
            anchor = _anchors(_page_text(docs_dir, uri)).get(anchor, anchor)
            return f"{bang}[{text}]({path}#{anchor})"
        if bang:  # an image: the copy on_files made
            up = "../" * src.count("/")
            return f"![{text}]({up}{_IMAGES}/{outside})"
        shown = text if text.startswith("`") else f"`{text}`"
        return shown if text.strip("`") == outside else f"{shown} (`{outside}`)"

    return _LINK.sub(link, markdown)
