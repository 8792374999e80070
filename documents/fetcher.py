"""A WeasyPrint URL fetcher that fetches nothing from outside the package.

Only ``fengqiao-static:<name>`` URLs are served, from ``documents/static/`` (the name must be a plain
file name listed in that directory). ``file:``, ``http(s):``, ``data:``, ``ftp:`` and every other URL is
refused. A refusal is *fatal*: templates never reference outside resources, so an attempt means that
something got into the HTML that should not have, and the render stops (``render_document`` turns the
error into ``DocumentRenderError``). Each refused URL is also recorded in ``refused`` for tests and logs.
"""

from __future__ import annotations

import mimetypes
from importlib import resources

from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

SCHEME = "fengqiao-static:"


class RefusedURLError(FatalURLFetchingError):
    """A document tried to load a resource the fetcher does not allow."""


def _static_names() -> frozenset[str]:
    root = resources.files("documents") / "static"
    return frozenset(p.name for p in root.iterdir() if p.is_file())


class PackageOnlyURLFetcher(URLFetcher):
    def __init__(self) -> None:
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False, fail_on_errors=True)
        self.refused: list[str] = []
        self._names = _static_names()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url.startswith(SCHEME):
            name = url[len(SCHEME):]
            if name in self._names:
                data = (resources.files("documents") / "static" / name).read_bytes()
                mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
                return URLFetcherResponse(url, data, {"Content-Type": mime})
        self.refused.append(url)
        raise RefusedURLError(f"refused to fetch {url[:200]!r}: documents load packaged resources only")
