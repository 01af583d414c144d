"""How a ``Record`` is an Elasticsearch document: the index settings, the mapping, and the conversion.

The document holds the record whole (``record``: its ``to_json`` document, an object Elasticsearch
keeps in ``_source`` but neither parses nor indexes: ``enabled: false``) and, beside it, the fields
queries, sorts and facets read, computed here once, the way the embedded index computes its columns
(``catalogue.stores.sqlite``), so that both backends answer alike:

- full text: ``title_text``, ``abstract_text``, ``keyword_text``, ``other_text`` (the texts the SQLite
  FTS columns hold, ancestor concept labels in ``other_text``), analysed by ``folded``: split at every
  character that is not a letter, digit or mark (as SQLite's ``unicode61`` tokeniser does), lower-cased
  and accent-folded; no stemming, so that ``q`` matches what the embedded index matches. Sub-fields
  ``.fr`` and ``.en`` analyse them with the French and English light stemmers (with French elision)
  for ranking only (``catalogue.stores.es_query``);
- codes as ``keyword``: ``id``, ``source``, ``pole``, ``type``, ``language``, ``fair_level``,
  ``validated`` (the shapes version of the validation report); ``fair_score`` an integer;
- sorting: ``title_key`` (``sqlite.sort_key`` of the title: case- and accent-folded, with a folding
  normalizer for the values queries compare it with), ``created``, ``updated``, ``time_start``,
  ``time_end`` as the embedded index's sortable UTC text (open ends as its sentinels), ``keyword``;
- space: ``geometry``, ``geo_shape`` envelopes of the boxes, split at the antimeridian (a point or a
  line when a box is degenerate, which an envelope cannot be), and the halves' bounds as numbers
  (``lon_min``... for ``extent``), ``n_boxes``;
- time: ``temporal``, one ``date_range`` per temporal extent (an open end left unbounded), and
  ``temporal_reversed`` for an extent a source wrote ending before it begins (kept by the crosswalks,
  with a problem noted): Lucene refuses a range whose start is after its end, and would refuse the
  whole document; it is indexed the right way round there, and queries test it as the embedded index
  compares its ends (``catalogue.stores.es_query.time_intersects``);
- CQL2 text fields: ``description_key`` (``wildcard``: the folded abstract, no term length limit) and
  ``keyword_keys`` (each keyword and concept label, folded);
- concepts: ``themes`` (every concept URI with its ancestors), ``theme_buckets`` (the Data Terra ones the
  ``theme`` facet counts) and ``theme_facts`` (their parents and labels, not indexed);
- facets: ``platforms``, ``instruments``, ``formats``, ``license`` (``catalogue.facets`` values), and
  ``years``, an ``integer_range`` per span of years the extents cover (open end unbounded);
- externalIds: ``xid_*`` (``scheme\\x1fvalue`` pairs, values, schemes: own ones and all);
- duplicate groups: ``group_keys`` (``catalogue.identity.group_keys``), ``seq`` (the indexing order)
  and ``duplicate_of`` (the id of the group's primary, absent for a primary or a record in no group).
"""

from __future__ import annotations

from typing import Any

import msgspec

from catalogue import facets
from catalogue.identity import group_keys
from catalogue.record import Record, from_json, to_json
from catalogue.stores import sqlite, sqlite_filter

# A keyword longer than Lucene's term limit (32 766 bytes) fails its whole document: titles, and every
# keyword value a source writes (keywords, facet values, identifiers), are cut (4 bytes a character at most).
MAX_KEY_CHARS = 4000
XID_SEPARATOR = "\x1f"  # between scheme and value: a character no identifier holds

SETTINGS: dict[str, Any] = {
    # One shard: facet counts and relevance statistics are then exact (terms aggregations and BM25 are
    # per shard); tens of thousands of collections and a few million granules fit one.
    "number_of_shards": 1,
    "analysis": {
        "tokenizer": {
            # What SQLite's unicode61 tokeniser keeps: letters, digits and marks; anything else splits.
            "words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}\\p{M}]+"},
        },
        "filter": {
            "fr_elision": {
                "type": "elision",
                "articles_case": True,
                "articles": [
                    "l",
                    "m",
                    "t",
                    "qu",
                    "n",
                    "s",
                    "j",
                    "d",
                    "c",
                    "jusqu",
                    "quoiqu",
                    "lorsqu",
                    "puisqu",
                ],
            },
            "fr_light_stem": {"type": "stemmer", "language": "light_french"},
            "en_light_stem": {"type": "stemmer", "language": "light_english"},
            "en_possessive": {"type": "stemmer", "language": "possessive_english"},
        },
        "analyzer": {
            "folded": {"type": "custom", "tokenizer": "words", "filter": ["lowercase", "asciifolding"]},
            "french_light": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["fr_elision", "lowercase", "asciifolding", "fr_light_stem"],
            },
            "english_light": {
                "type": "custom",
                "tokenizer": "standard",
                "filter": ["en_possessive", "lowercase", "asciifolding", "en_light_stem"],
            },
        },
        "normalizer": {
            "folding": {"type": "custom", "filter": ["lowercase", "asciifolding"]},
        },
    },
}

_TEXT: dict[str, Any] = {
    "type": "text",
    "analyzer": "folded",
    "fields": {
        "fr": {"type": "text", "analyzer": "french_light"},
        "en": {"type": "text", "analyzer": "english_light"},
    },
}
_KEYWORD = {"type": "keyword"}

MAPPING: dict[str, Any] = {
    "dynamic": "strict",  # a field this module does not know is a bug, not a new field
    "properties": {
        "record": {"type": "object", "enabled": False},
        "id": _KEYWORD,
        "source": _KEYWORD,
        "pole": _KEYWORD,
        "type": _KEYWORD,
        "language": _KEYWORD,
        "fair_level": _KEYWORD,
        "fair_score": {"type": "integer"},
        "validated": _KEYWORD,
        "title_text": _TEXT,
        "abstract_text": _TEXT,
        "keyword_text": _TEXT,
        "other_text": _TEXT,
        "title_key": {"type": "keyword", "normalizer": "folding"},
        "description_key": {"type": "wildcard"},
        "keyword_keys": _KEYWORD,
        "created": _KEYWORD,
        "updated": _KEYWORD,
        "time_start": _KEYWORD,
        "time_end": _KEYWORD,
        "temporal": {"type": "date_range", "format": "strict_date_time_no_millis"},
        "temporal_reversed": {"type": "date_range", "format": "strict_date_time_no_millis"},
        "geometry": {"type": "geo_shape"},
        "lon_min": {"type": "double"},
        "lon_max": {"type": "double"},
        "lat_min": {"type": "double"},
        "lat_max": {"type": "double"},
        "n_boxes": {"type": "integer"},
        "themes": _KEYWORD,
        "theme_buckets": _KEYWORD,
        "theme_facts": {"type": "object", "enabled": False},
        "platforms": _KEYWORD,
        "instruments": _KEYWORD,
        "formats": _KEYWORD,
        "license": _KEYWORD,
        "years": {"type": "integer_range"},
        "xid_own": _KEYWORD,
        "xid_own_value": _KEYWORD,
        "xid_own_scheme": _KEYWORD,
        "xid_all": _KEYWORD,
        "xid_all_value": _KEYWORD,
        "xid_all_scheme": _KEYWORD,
        "group_keys": _KEYWORD,
        "seq": {"type": "long"},
        "duplicate_of": _KEYWORD,
    },
}

# The fields a write reads back of an indexed record to regroup it (never the record itself).
GROUP_FIELDS = ["id", "source", "seq", "group_keys", "duplicate_of"]

_json_decoder = msgspec.json.Decoder()
_json_encoder = msgspec.json.Encoder()


def index_body() -> dict[str, Any]:
    """The body of the create-index request of a physical index."""
    return {"settings": SETTINGS, "mappings": MAPPING}


def to_document(record: Record, seq: int) -> dict[str, Any]:
    """The document of ``record`` indexed ``seq``-th, without ``duplicate_of`` (set by the regrouping).

    The record is encoded and decoded first, as the embedded index does: a record that would not come
    back (a link whose url is no text, say) raises here, before its batch writes anything."""
    encoded = to_json(record)
    from_json(encoded)
    halves = [half for b in record.bboxes for half in sqlite._split(b.west, b.south, b.east, b.north)]
    times = sqlite._extents(record)
    fair = sqlite._fair(record)
    record_facts = facets.facts(record)
    identifiers = sqlite_filter.identifier_rows(record)
    own = [(scheme, value) for scheme, value, is_own in identifiers if is_own]
    every = [(scheme, value) for scheme, value, _ in identifiers]
    doc: dict[str, Any] = {
        "record": _json_decoder.decode(encoded),
        "id": record.id,
        "source": record.source_id,
        "pole": record.pole,
        "type": record.resource_type,
        "language": record.language,
        "fair_level": fair.level if fair else None,
        "fair_score": fair.score if fair else None,
        "validated": sqlite._validated(record),
        "title_text": sqlite._join(record.title.all_texts()),
        "abstract_text": sqlite._join(record.abstract.all_texts() if record.abstract else []),
        "keyword_text": sqlite._join(sqlite._keyword_texts(record)),
        "other_text": sqlite._join(sqlite._other_texts(record)),
        "title_key": sqlite.sort_key(record.title.text)[:MAX_KEY_CHARS],
        "description_key": sqlite_filter.fold(
            sqlite._join(record.abstract.all_texts() if record.abstract else [])
        ),
        "keyword_keys": _unique(_key(sqlite_filter.fold(t)) for t in sqlite._keyword_texts(record) if t),
        "created": sqlite._optional_instant(record.created),
        "updated": sqlite._optional_instant(record.metadata_date),
        "time_start": min((start for start, _ in times), default=None),
        "time_end": max((end for _, end in times), default=None),
        "temporal": [_date_range(start, end) for start, end in times if start <= end],
        "temporal_reversed": [_date_range(end, start) for start, end in times if start > end],
        "geometry": [_shape(*half) for half in halves],
        "lon_min": [h[0] for h in halves],
        "lon_max": [h[1] for h in halves],
        "lat_min": [h[2] for h in halves],
        "lat_max": [h[3] for h in halves],
        "n_boxes": len(halves),
        "themes": sqlite._themes(record),
        "theme_buckets": [theme.uri for theme in record_facts.themes],
        "theme_facts": {
            theme.uri: {"parent": theme.parent, "labels": theme.labels} for theme in record_facts.themes
        },
        "platforms": _unique(map(_key, record_facts.platforms)),
        "instruments": _unique(map(_key, record_facts.instruments)),
        "formats": _unique(map(_key, record_facts.formats)),
        "license": _key(record_facts.license),
        "years": [_year_range(first, last) for first, last in record_facts.years],
        "xid_own": _unique(_key(f"{s}{XID_SEPARATOR}{v}") for s, v in own),
        "xid_own_value": _unique(_key(v) for _, v in own),
        "xid_own_scheme": _unique(_key(s) for s, _ in own if s),
        "xid_all": _unique(_key(f"{s}{XID_SEPARATOR}{v}") for s, v in every),
        "xid_all_value": _unique(_key(v) for _, v in every),
        "xid_all_scheme": _unique(_key(s) for s, _ in every if s),
        "group_keys": sorted(group_keys(record)),
        "seq": seq,
    }
    return {name: value for name, value in doc.items() if value is not None and value != []}


def from_document(source: dict[str, Any]) -> Record:
    """The record a document holds (its ``_source``, or the ``record`` part of it)."""
    return from_json(_json_encoder.encode(source["record"]))


def _unique(values: Any) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _key(value: str | None) -> str | None:
    """A keyword value cut to what Lucene indexes (``MAX_KEY_CHARS``)."""
    return value[:MAX_KEY_CHARS] if value else value


def _date_range(start: str, end: str) -> dict[str, str]:
    """An extent as a ``date_range`` value: the embedded index's sentinels become open bounds."""
    out = {}
    if start != sqlite.OPEN_START:
        out["gte"] = start
    if end != sqlite.OPEN_END:
        out["lte"] = end
    return out


def _year_range(first: int, last: int | None) -> dict[str, int]:
    return {"gte": first} if last is None else {"gte": first, "lte": last}


def _shape(min_lon: float, max_lon: float, min_lat: float, max_lat: float) -> dict[str, Any]:
    """One box half as GeoJSON for ``geo_shape``: an envelope, or a point or a line when it has no area
    (a station's box), which Elasticsearch refuses as an envelope."""
    if min_lon == max_lon and min_lat == max_lat:
        return {"type": "point", "coordinates": [min_lon, min_lat]}
    if min_lon == max_lon or min_lat == max_lat:
        return {"type": "linestring", "coordinates": [[min_lon, min_lat], [max_lon, max_lat]]}
    return {"type": "envelope", "coordinates": [[min_lon, max_lat], [max_lon, min_lat]]}


def envelope_query(field: str, box: tuple[float, float, float, float]) -> dict[str, Any]:
    """A ``geo_shape`` intersects query of one box half (min_lon, max_lon, min_lat, max_lat)."""
    return {"geo_shape": {field: {"shape": _shape(*box), "relation": "intersects"}}}
