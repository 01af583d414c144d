"""URI keys: one spelling for the several ways records and vocabularies write the same concept URI.

A ``gmx:Anchor`` rarely carries the URI exactly as the vocabulary file spells it:

- GCMD moved its KMS from ``gcmdservices.gsfc.nasa.gov`` to ``gcmd.earthdata.nasa.gov``; the concept
  UUIDs did not change, so ``…/kms/concept/{uuid}`` on either host is the same concept;
- NVS writes concept URIs with a trailing slash (``…/current/EV_SALIN/``), records often without;
- INSPIRE and GEMET URIs are ``http://`` in the registries and ``https://`` in many records;
- GEMET anchors often point at the concept's web page, ``…/gemet/en/concept/4614``, whose language
  segment is not part of the concept URI ``…/gemet/concept/4614``.

``uri_key`` maps all of these to one key; look-ups go through the key, answers give the vocabulary's URI.
"""

from __future__ import annotations

import re

_HOST_ALIASES = {"gcmdservices.gsfc.nasa.gov": "gcmd.earthdata.nasa.gov"}
# GEMET's HTML pages: /gemet/{lang}/concept/{id} (also theme, group, supergroup) name /gemet/concept/{id}.
_GEMET_PAGE = re.compile(r"^/gemet/[a-z]{2}(?:-[a-z]+)?/(concept|theme|group|supergroup)/")
# RFC 3986 split of an http(s) URL (a regular expression: urlsplit is ten times slower, and the
# thesaurus computes a key for every URI of every vocabulary it loads).
_HTTP = re.compile(r"^https?://(?:[^@/?#]*@)?([^/?#:]+)(?::\d*)?([^?#]*)(.*)$", re.IGNORECASE | re.DOTALL)


def uri_key(uri: str) -> str:
    """The comparison key of a URI: scheme-less, host lower-cased and de-aliased, no trailing slash."""
    text = uri.strip()
    parts = _HTTP.match(text)
    if parts is None:
        return text
    host, path, rest = parts.groups()
    host = host.lower()
    host = _HOST_ALIASES.get(host, host)
    path = path.rstrip("/")
    if host == "www.eionet.europa.eu":
        path = _GEMET_PAGE.sub(r"/gemet/\1/", path)
    elif host == "gcmd.earthdata.nasa.gov":
        path = path.lower()  # UUIDs, written upper-case by some records
    return host + path + rest
