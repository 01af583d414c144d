"""Catalogue descriptions: pygeoapi's description of a record collection made a Records 1.0 catalog
object (``record-collection``, ``catalog.yaml``).

pygeoapi describes every collection alike, from its static config. A catalogue also says what it
holds, so its description is completed from the store (two aggregates and a facet count over the
collection's records, computed again every ``SUMMARY_SECONDS``: a description may lag a harvest by as
much):

- ``type: Collection``, ``itemType: record`` and ``defaultSortOrder`` (what the store does without
  ``sortby``);
- ``extent``: the box around every record's boxes and the span of their temporal extents, an open
  end as ``null``; the config's world box when no record has a box;
- ``themes``: the Data Terra themes its records fall under (the ``theme`` facet); ``schemes``: the
  Data Terra thesaurus and the vocabularies it maps keywords from; ``contacts``: Data Terra;
- ``child`` links from the federated catalogue to the poles' catalogues, ``parent`` links back;
- JSON served as ``application/ogc-catalog+json`` (``/req/json/catalog-response``), which its ``self``
  link says, unless the client asked for ``application/json`` by name.
"""

from __future__ import annotations

import json
import math
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from catalogue.query import FacetRequest, Query
from catalogue.store import Extent, Store

Json = dict[str, Any]

CATALOG_MEDIA_TYPE = "application/ogc-catalog+json"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
# What the store does without ``sortby``: id order (relevance first when ``q`` is given).
DEFAULT_SORT_ORDER = [{"field": "id", "direction": "asc"}]
DATA_TERRA_THESAURUS = "https://w3id.org/data-terra/thesaurus/"

# The Data Terra thesaurus, and the vocabularies its concepts are mapped to (config/thesauri): the
# concept URIs of records' ``themes`` come from these.
SCHEMES = [
    {"scheme-id": "data-terra", "namespace": DATA_TERRA_THESAURUS, "resolver": DATA_TERRA_THESAURUS},
    {"scheme-id": "gcmd", "namespace": "https://gcmd.earthdata.nasa.gov/kms/concept/"},
    {"scheme-id": "inspire-theme", "namespace": "http://inspire.ec.europa.eu/theme/"},
    {"scheme-id": "gemet-theme", "namespace": "http://www.eionet.europa.eu/gemet/theme/"},
    {
        "scheme-id": "eu-data-theme",
        "namespace": "http://publications.europa.eu/resource/authority/data-theme/",
    },
    {"scheme-id": "odatis", "namespace": "https://vocab.ifremer.fr/collection/odatis_thematiques/"},
    {"scheme-id": "formater-variable", "namespace": "https://w3id.org/formater/variable/"},
]
# Who answers for the catalogue (each record names its own contacts).
CONTACTS = [
    {
        "organization": "Data Terra",
        "links": [{"href": "https://www.data-terra.org/", "rel": "about", "type": "text/html"}],
        "roles": ["publisher"],
    }
]
# How long a catalogue's extent and themes are served before they are computed again.
SUMMARY_SECONDS = 300.0
_summaries: weakref.WeakKeyDictionary[Store, dict[str, tuple[float, Extent, list[Json]]]] = (
    weakref.WeakKeyDictionary()
)
_summaries_lock = threading.Lock()
# Themes listed in a description at most (the two upper levels of the thesaurus are far fewer).
_MAX_THEMES = 200


def complete(
    description: Json,
    store: Store,
    fixed: Mapping[str, list[str]],
    *,
    catalog_json: bool,
    hierarchy: list[Json],
) -> None:
    """Complete pygeoapi's ``description`` of a record collection restricted by ``fixed`` (property ->
    accepted values), in place; ``catalog_json``: the answer is served as ``CATALOG_MEDIA_TYPE``;
    ``hierarchy``: its ``child``/``parent`` links to other catalogues."""
    found, themes = _summary(store, fixed)
    description["type"] = "Collection"
    description["itemType"] = "record"
    description["defaultSortOrder"] = DEFAULT_SORT_ORDER
    description["extent"] = extent(found, description.get("extent", {}))
    if themes:
        description["themes"] = themes
    description["schemes"] = SCHEMES
    description["contacts"] = CONTACTS
    description.setdefault("links", []).extend(hierarchy)
    if catalog_json:
        for link in description.get("links", []):
            if link.get("rel") == "self" and link.get("type") == "application/json":
                link["type"] = CATALOG_MEDIA_TYPE


def _summary(store: Store, fixed: Mapping[str, list[str]]) -> tuple[Extent, list[Json]]:
    """The extent and themes of a catalogue, computed at most every ``SUMMARY_SECONDS``: they are
    aggregates over all its records (milliseconds from the store's column snapshot, a tenth of a
    second in SQL at 10^5 records), and change only with a harvest."""
    key = json.dumps(fixed, sort_keys=True)
    with _summaries_lock:
        cached = _summaries.get(store, {}).get(key)
    if cached is not None and time.monotonic() - cached[0] < SUMMARY_SECONDS:
        return cached[1], cached[2]
    properties = {name: list(values) for name, values in fixed.items() if name != "type"}
    query = Query(types=list(fixed.get("type", [])), properties=properties)
    found, themes = store.extent(query), data_terra_themes(store, query)
    with _summaries_lock:
        _summaries.setdefault(store, {})[key] = (time.monotonic(), found, themes)
    return found, themes


def extent(found: Extent, configured: Json) -> Json:
    """The ``extent`` member: the records' box (rounded outwards: the index keeps single-precision
    boxes) or the configured one, and their time span when any record has one."""
    out: Json = {"spatial": configured.get("spatial") or {"bbox": [[-180, -90, 180, 90]], "crs": CRS84}}
    if found.bbox is not None:
        west, south, east, north = found.bbox
        box = [_outwards(west, math.floor), _outwards(south, math.floor)]
        box += [_outwards(east, math.ceil), _outwards(north, math.ceil)]
        out["spatial"] = {"bbox": [box], "crs": CRS84}
    if found.time is not None:
        out["temporal"] = {"interval": [list(found.time)], "trs": GREGORIAN}
    return out


def _outwards(value: float, direction: Any) -> float:
    return direction(value * 1e6) / 1e6


def data_terra_themes(store: Store, query: Query) -> list[Json]:
    """The Data Terra themes of the records ``query`` matches, as one ``themes`` entry (``[]`` when
    none is themed, as before the thesaurus is applied)."""
    facet_query = Query(
        types=query.types,
        properties=query.properties,
        facets=[FacetRequest("theme", size=_MAX_THEMES)],
        limit=1,
    )
    facets = store.search(facet_query).facets
    concepts = []
    for bucket in facets[0].buckets if facets else []:
        if not bucket.value.startswith(DATA_TERRA_THESAURUS):
            continue
        concept: Json = {"id": bucket.value, "url": bucket.value}
        title = bucket.labels.get("en") or bucket.labels.get("fr")
        if title:
            concept["title"] = title
        concepts.append(concept)
    return [{"scheme": DATA_TERRA_THESAURUS, "concepts": concepts}] if concepts else []
