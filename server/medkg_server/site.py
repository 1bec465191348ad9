"""The links every HTML page's header and footer show, worked out once per host and mount point.

Seven `url_for` calls were a tenth of a dataset page's time; their results depend only on where
the app is mounted and the scheme and host it is reached by. They are made inside a Flask
request the first time a host is seen; the direct path (direct.py), which renders dataset pages
without Flask, reads them from here and leaves a host it has not seen yet to Flask.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import request, url_for

from medkg_server.downloads import DUMP

# Client-chosen Host headers each get an entry, so the table is bounded.
MAX_HOSTS = 64
# What url_for reads from the request: where the app is mounted, scheme, host
KEYS = ("SCRIPT_NAME", "wsgi.url_scheme", "HTTP_HOST", "SERVER_NAME", "SERVER_PORT")
# A stand-in slug: the Croissant link of a dataset is the link made for it with the slug put in
SLUG = "SLUG"
# Werkzeug's own quoting of a path segment (BaseConverter.to_url), so both spell a link alike
PATH_SAFE = "!$&'()*+,/:;=@"

Links = dict[str, str]
SITE_LINKS = "medkg.site_links"  # the app.extensions key of the app's SiteLinks


class SiteLinks:
    """The site's links by (mount point, scheme, host): made by url_for, then only read."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, ...], Links] = {}

    def known(self, environ: dict[str, Any]) -> Links | None:
        """The links for this request's host, if a request from it was answered before."""
        return self._built.get(_key(environ))

    def for_request(self) -> Links:
        """The links for the current Flask request (made and kept on a host's first request)."""
        environ = request.environ
        links = self.known(environ)
        if links is None:
            links = _made()
            if len(self._built) < MAX_HOSTS:
                self._built[_key(environ)] = links
        return links

    def context(self) -> dict[str, Links]:
        """The Flask context processor: every template sees the links as `site`."""
        return {"site": self.for_request()}


def croissant_url(links: Links, slug: str) -> str:
    """The address of a dataset's Croissant file, as url_for would spell it."""
    return links["croissant_before"] + quote(slug, safe=PATH_SAFE) + links["croissant_after"]


def _key(environ: dict[str, Any]) -> tuple[str, ...]:
    return tuple(environ.get(name, "") for name in KEYS)


def _made() -> Links:
    before, _, after = url_for("downloads.croissant", slug=SLUG).rpartition(SLUG)
    return {
        "css": url_for("static", filename="medkg.css"),
        "icon": url_for("static", filename="favicon.svg"),
        "index": url_for("pages.index"),
        "browse": url_for("pages.browse"),
        "stats": url_for("pages.stats"),
        "void": url_for("pages.void"),
        "dump": url_for("downloads.download", name=DUMP),
        "downloads": url_for("downloads.listing"),
        "sparql": url_for("sparql.sparql"),
        "sparql_external": url_for("sparql.sparql", _external=True),
        "croissant_before": before,
        "croissant_after": after,
        # the URL a request's path is put after (Flask's request.url_root): scheme, host, mount
        "root": request.url_root,
    }
