"""Our OpenAPI document: pygeoapi's generator output, completed for OGC API - Records and made whole.

pygeoapi's document leaves out what our record search takes beyond OGC API Features (``ids``,
``externalIds``, ``filter``, ``facets``; ``/req/record-core-query-parameters/*-definition`` asks for
them in the API definition), lists every queryable as an equality parameter although free text
(``title``...) is searched with ``q`` and ``filter``, not by equality (a 400), and points its
parameters, responses and schemas at OGC's and GitHub's servers. A client offline, or one that will not
fetch them (schemathesis), cannot read it. So, once, when the server writes it:

- the record collections' ``items`` operations get the Record Core query parameters as Records 1.0
  defines them (arrays, ``explode: false``), the filter parameters of Features Part 3 and ``facets``
  (Records Part 2 draft); the equality parameters are the ones the provider tests;
- ``/collections/{id}/sortables`` and ``/collections/{id}/facets`` are described;
- every remote ``$ref`` is replaced by a local component of the same meaning (defined here: the
  shapes clients rely on, without OGC's full schemas).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from api.provider import FIXED_FILTERS, QUERYABLES
from catalogue.query import FACET_ORDERS, FACETS, FILTER_LANGS, SORTABLES

Json = dict[str, Any]

_STRINGS = {"type": "array", "items": {"type": "string"}}
# Equality parameters the provider tests (``api.provider._EQUALITY``), beyond ``type`` and ``ids``.
_EQUALITY = [*(name for name in FIXED_FILTERS if name != "type"), "theme", "fair_level"]

_PARAMETERS: dict[str, Json] = {
    "q": {
        "name": "q",
        "in": "query",
        "description": "Free text: comma-separated alternatives (OR), each a phrase of terms in order;"
        " searched in titles, descriptions, keywords and concept labels, case- and accent-insensitively.",
        "required": False,
        "schema": _STRINGS,
        "style": "form",
        "explode": False,
    },
    "ids": {
        "name": "ids",
        "in": "query",
        "description": "Records with one of these ids.",
        "required": False,
        "schema": _STRINGS,
        "style": "form",
        "explode": False,
    },
    "type": {
        "name": "type",
        "in": "query",
        "description": "Records of one of these resource types (dataset, series, service...).",
        "required": False,
        "schema": _STRINGS,
        "style": "form",
        "explode": False,
    },
    "externalIds": {
        "name": "externalIds",
        "in": "query",
        "description": "Records having one of these identifiers: scheme:value, a value alone, or scheme:"
        " (any value of that scheme). DOIs match in any spelling.",
        "required": False,
        "schema": _STRINGS,
        "style": "form",
        "explode": False,
    },
    "datetime": {
        "name": "datetime",
        "in": "query",
        "description": "Records whose temporal extent intersects this instant or interval (RFC 3339,"
        " '..' for an open end).",
        "required": False,
        "schema": {"type": "string"},
        "style": "form",
        "explode": False,
    },
    "sortby": {
        "name": "sortby",
        "in": "query",
        "description": "Sort keys, each optionally prefixed with + (ascending, the default) or -.",
        "required": False,
        "schema": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": rf"^[+-]?({'|'.join(SORTABLES)})$"},
        },
        "style": "form",
        "explode": False,
    },
    "filter": {
        "name": "filter",
        "in": "query",
        "description": "A CQL2 filter on the queryables, in the language filter-lang names.",
        "required": False,
        "schema": {"type": "string"},
        "style": "form",
        "explode": False,
    },
    "filter-lang": {
        "name": "filter-lang",
        "in": "query",
        "description": "The language of filter.",
        "required": False,
        "schema": {"type": "string", "enum": list(FILTER_LANGS), "default": "cql2-text"},
        "style": "form",
    },
    "filter-crs": {
        "name": "filter-crs",
        "in": "query",
        "description": "The CRS of the coordinates in filter: CRS84 only.",
        "required": False,
        "schema": {
            "type": "string",
            "format": "uri",
            "enum": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        },
        "style": "form",
    },
    "facets": {
        "name": "facets",
        "in": "query",
        "description": "Facets to count over every matched record (OGC API Records Part 2 draft):"
        f" name[:bucketCount[:order]], comma-separated; names: {', '.join(FACETS)};"
        f" orders: {', '.join(FACET_ORDERS)}.",
        "required": False,
        "schema": {
            "type": "array",
            "items": {
                "type": "string",
                "pattern": rf"^({'|'.join(FACETS)})(:[0-9]+(:({'|'.join(FACET_ORDERS)}))?)?$",
            },
        },
        "style": "form",
        "explode": False,
    },
    "featureId": {
        "name": "featureId",
        "in": "path",
        "description": "The id of a record.",
        "required": True,
        "schema": {"type": "string"},
    },
}

_EXCEPTION = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
}
_LINK = {
    "type": "object",
    "required": ["href"],
    "properties": {
        "href": {"type": "string"},
        "rel": {"type": "string"},
        "type": {"type": "string"},
        "title": {"type": "string"},
    },
}


def _response(description: str, media_type: str, schema: Json | str) -> Json:
    reference = {"$ref": f"#/components/schemas/{schema}"} if isinstance(schema, str) else schema
    return {"description": description, "content": {media_type: {"schema": reference}}}


_OBJECT = {"type": "object"}
_RESPONSES: dict[str, Json] = {
    "LandingPage": _response("The landing page.", "application/json", _OBJECT),
    "Collection": _response("A catalogue description.", "application/ogc-catalog+json", _OBJECT),
    "Features": _response("A page of records.", "application/geo+json", _OBJECT),
    "Feature": _response("A record.", "application/geo+json", _OBJECT),
    "InvalidParameter": _response("A parameter is not valid.", "application/json", "exception"),
    "NotFound": _response("No such resource.", "application/json", "exception"),
    "ServerError": _response("A server error.", "application/json", "exception"),
}
_SCHEMAS = {"exception": _EXCEPTION, "link": _LINK}

# Remote references pygeoapi writes -> the local component standing for each (by its last name).
_REMOTE = re.compile(
    r"^https?://.*?(?:#/components/(?P<kind>\w+)/|/(?P<file>[\w-]+)\.yaml$)(?P<name>[\w-]*)$"
)
_REMOTE_FILES = {
    "q": "parameters/q",
    "sortby": "parameters/sortby",
    "NotFound": "responses/NotFound",
    "exception": "schemas/exception",
}


def complete(document: Json, record_collections: Iterable[str]) -> Json:
    """``document`` (pygeoapi's, for a config whose record collections are ``record_collections``)
    completed and made self-contained, in place; returned for convenience."""
    components = document.setdefault("components", {})
    components.setdefault("parameters", {}).update(_PARAMETERS)
    components.setdefault("responses", {}).update(_RESPONSES)
    components.setdefault("schemas", {}).update(_SCHEMAS)
    for name in record_collections:
        _search_operation(document["paths"][f"/collections/{name}/items"]["get"])
        document["paths"][f"/collections/{name}/sortables"] = _sortables_path(name)
        document["paths"][f"/collections/{name}/facets"] = _facets_path(name)
    _localise(document)
    return document


def _search_operation(operation: Json) -> None:
    """The record search: pygeoapi's parameters less its queryable ones, plus ours."""
    kept = [p for p in operation["parameters"] if "$ref" in p or p.get("name") not in QUERYABLES]
    equality = [_equality(name) for name in _EQUALITY]
    ours = ["ids", "type", "externalIds", "filter", "filter-lang", "filter-crs", "facets"]
    operation["parameters"] = [*kept, *({"$ref": f"#/components/parameters/{p}"} for p in ours), *equality]


def _equality(name: str) -> Json:
    return {
        "name": name,
        "in": "query",
        "description": f"Records whose {name} is one of these: {QUERYABLES[name]['description']}.",
        "required": False,
        "schema": _STRINGS,
        "style": "form",
        "explode": False,
    }


def _sortables_path(name: str) -> Json:
    return {
        "get": {
            "summary": f"The sort keys of {name}",
            "operationId": f"get{name.title()}Sortables",
            "tags": [name],
            "responses": {
                "200": _response("The sortables, as a JSON Schema.", "application/schema+json", _OBJECT),
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    }


def _facets_path(name: str) -> Json:
    return {
        "get": {
            "summary": f"The facets a search of {name} may ask for",
            "operationId": f"get{name.title()}Facets",
            "tags": [name],
            "responses": {
                "200": _response("The facets.", "application/facets+json", _OBJECT),
                "404": {"$ref": "#/components/responses/NotFound"},
            },
        }
    }


def _localise(node: Any) -> None:
    """Replace every remote ``$ref`` under ``node`` by the local component of its name."""
    if isinstance(node, list):
        for item in node:
            _localise(item)
        return
    if not isinstance(node, dict):
        return
    reference = node.get("$ref")
    if isinstance(reference, str) and not reference.startswith("#"):
        node["$ref"] = _local(reference)
    for value in node.values():
        _localise(value)


def _local(reference: str) -> str:
    found = _REMOTE.match(reference)
    if found is None:
        raise ValueError(f"no local component stands for {reference}")
    if found["file"]:
        return f"#/components/{_REMOTE_FILES[found['file']]}"
    return f"#/components/{found['kind']}/{found['name']}"
