"""What a record counts under in each facet (``catalogue.query.FACETS``), and how buckets are cut.

Backend-neutral: a backend stores ``facts(record)`` (what the facets read that its other columns do
not hold) when it indexes a record, counts values over the records a query matches, and hands the
counts to ``facet`` for ordering and cutting, so that every backend buckets alike.

Decisions a portal relies on:

- ``format``: names as the sources write them vary ("SHP", "ShapeFile", "Géodonnée au format SHP",
  "GeoTIF", "application/json", "NetCDF-4"); common ones are folded into one spelling (``_FORMATS``),
  others kept as written (whitespace collapsed). Placeholders ("unknown") count nowhere.
- ``year``: each year an extent covers, from its start year to its end year. An open end runs to the
  current year (counted when the snapshot of the index is read, so a running series grows a year on
  New Year without being reindexed); an open start counts the end year only. Years are clipped to
  ``FIRST_YEAR``..current year: a palaeoclimate record reaching back 10 000 years would otherwise
  make ten thousand buckets out of one record; an extent wholly before ``FIRST_YEAR`` counts nowhere.
- ``theme``: Data Terra concepts only (``thesaurus.themes.SCHEME``), each a record has or is under
  (ancestors), with its broader Data Terra concept as ``parent`` and its labels as records carry the
  concept, completed from the shipped Data Terra thesaurus (``thesaurus.themes.labels``): a compartment
  no record carries itself, only as the ancestor of a theme, has labels nonetheless.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

import msgspec

from catalogue.geojson import licence
from catalogue.query import Bucket, Facet, FacetRequest, QueryError
from catalogue.record import Constraints, Record
from thesaurus import themes
from thesaurus.themes import is_theme

FIRST_YEAR = 1800


class Theme(msgspec.Struct, array_like=True, frozen=True):
    """A Data Terra concept a record counts under: its URI, its broader Data Terra concept, and its
    labels when the record carries the concept itself (``None`` when only as an ancestor)."""

    uri: str
    parent: str | None
    labels: dict[str, str] | None


class Facts(msgspec.Struct, omit_defaults=True):
    """The facet values of a record that are not plain record fields, computed once when indexed.
    ``years``: disjoint (first, last) years of its extents (``merged``), ``last`` ``None`` when open:
    clipped to ``FIRST_YEAR``..this year when counted."""

    platforms: list[str] = []
    instruments: list[str] = []
    formats: list[str] = []
    license: str | None = None
    years: list[tuple[int, int | None]] = []
    themes: list[Theme] = []


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Facts)


def encode(facts: Facts) -> bytes:
    return _encoder.encode(facts)


def decode(data: bytes) -> Facts:
    return _decoder.decode(data)


def facts(record: Record) -> Facts:
    return Facts(
        platforms=_names(record.platforms),
        instruments=_names(record.instruments),
        formats=list(dict.fromkeys(f for fmt in record.formats if (f := format_name(fmt.name)))),
        license=_licence(record.constraints.licence, record.constraints.licence_url)
        if record.constraints
        else None,
        years=merged(span for extent in record.temporal if (span := _span(extent.start, extent.end))),
        themes=_themes(record),
    )


@functools.lru_cache(maxsize=1024)  # a source gives its few licences to thousands of records
def _licence(text: str | None, url: str | None) -> str | None:
    """The ``license`` of the GeoJSON of a record with this licence: its SPDX id, ``other``, or none."""
    return licence(Constraints(licence=text, licence_url=url))[0]


def _names(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(name for value in values if (name := " ".join(value.split()))))


_PLACEHOLDERS = frozenset({"", "unknown", "inconnu", "none", "na", "notapplicable", "other", "test"})
# Folded spelling (letters and digits, lower case) -> the bucket value.
_FORMATS = {
    **dict.fromkeys(("netcdf", "netcdf3", "netcdf4", "netcdfcf", "applicationxnetcdf"), "NetCDF"),
    **dict.fromkeys(("geotiff", "geotif", "tiff", "tif", "cog", "imagetiff"), "GeoTIFF"),
    **dict.fromkeys(("shp", "shapefile", "esrishapefile", "geodonneeauformatshp"), "Shapefile"),
    **dict.fromkeys(("csv", "textcsv"), "CSV"),
    **dict.fromkeys(("json", "applicationjson"), "JSON"),
    **dict.fromkeys(("geojson", "applicationgeojson", "applicationgeojsonjson"), "GeoJSON"),
    **dict.fromkeys(("gml", "gmlxml", "applicationgmlxml"), "GML"),
    **dict.fromkeys(("hdf", "hdf4", "hdfeos"), "HDF"),
    **dict.fromkeys(("hdf5", "h5"), "HDF5"),
    **dict.fromkeys(("grib", "grib1", "grib2"), "GRIB"),
    **dict.fromkeys(("zarr",), "Zarr"),
    **dict.fromkeys(("parquet", "geoparquet"), "Parquet"),
    **dict.fromkeys(("pdf", "applicationpdf"), "PDF"),
    **dict.fromkeys(("kml", "kmz"), "KML"),
    **dict.fromkeys(("xlsx", "xls", "excel", "microsoftexcel", "microsoftexcelxlsx"), "Excel"),
    **dict.fromkeys(("html", "texthtml"), "HTML"),
    **dict.fromkeys(("ascii", "txt", "text", "textplain"), "Text"),
    **dict.fromkeys(("zip", "applicationzip"), "ZIP"),
    **dict.fromkeys(("jpeg", "jpg", "imagejpeg"), "JPEG"),
    **dict.fromkeys(("png", "imagepng"), "PNG"),
    **dict.fromkeys(("safe",), "SAFE"),
}
_FOLD = re.compile(r"[\W_]+")
_ACCENTS = str.maketrans("éèêëàâîïôöûüç", "eeeeaaiioouuc")


@functools.lru_cache(maxsize=4096)
def format_name(name: str) -> str | None:
    """The bucket of a format name: its common spelling, else the name as written; ``None`` for a
    placeholder. "GML (.gml)" and "NetCDF-4" count as GML and NetCDF: a parenthesis or a version
    number after the name does not make another format."""
    written = " ".join(name.split())
    folded = _FOLD.sub("", written.casefold().translate(_ACCENTS))
    if folded in _PLACEHOLDERS:
        return None
    if folded in _FORMATS:
        return _FORMATS[folded]
    bare = _FOLD.sub("", re.sub(r"\(.*?\)|[\s\-_]*v?\d[\d.]*$", "", written).casefold().translate(_ACCENTS))
    return _FORMATS.get(bare, written)


_YEAR = re.compile(r"\s*(\d{4})")


def _span(start: str | None, end: str | None) -> tuple[int, int | None] | None:
    """(first, last) year of an extent from its texts (dates or timestamps; the year is what they begin
    with), ``last`` ``None`` when open; an open start counts the end year only."""
    first = _year(start)
    last = _year(end)
    if first is None and last is None:
        return None
    if first is None:
        return (last, last)  # type: ignore[return-value]
    if last is not None and last < first:
        return None
    return (first, last)


def _year(text: str | None) -> int | None:
    match = _YEAR.match(text) if text else None
    return int(match.group(1)) if match else None


def merged(spans: Iterable[tuple[int, int | None]]) -> list[tuple[int, int | None]]:
    """Extents' (first, last) years as disjoint ranges, in order: overlapping or adjacent extents count a
    year once. An open end (``None``) absorbs every range after its start."""
    out: list[tuple[int, int | None]] = []
    for first, last in sorted(spans, key=lambda span: span[0]):
        if out and (out[-1][1] is None or first <= out[-1][1] + 1):
            previous = out[-1][1]
            out[-1] = (out[-1][0], None if previous is None or last is None else max(previous, last))
        else:
            out.append((first, last))
    return out


def this_year() -> int:
    return datetime.now(UTC).year


# Facet name -> the ``Facts`` field of its values, for the multi-valued facets.
MULTI_VALUED = {"platform": "platforms", "instrument": "instruments", "format": "formats"}


def years(values: Iterable[str | int]) -> list[int]:
    """The years of a ``year`` filter that a bucket may have (``FIRST_YEAR``..this year); others match
    nothing, as no bucket has them. Raises ``QueryError`` on a value that is not a year."""
    out = []
    for value in values:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= 4):
            raise QueryError(f"year must be a year such as 2015, not {value!r}")
        if FIRST_YEAR <= int(text) <= this_year():
            out.append(int(text))
    return out


def _themes(record: Record) -> list[Theme]:
    """The Data Terra concepts of a record and their Data Terra ancestors, each once: carried labels
    win over an ancestor's lack of them."""
    out: dict[str, Theme] = {}
    for concept in record.concepts:
        chain = [uri for uri in (concept.uri, *concept.ancestors) if is_theme(uri)]
        for i, uri in enumerate(chain):
            labels = dict(concept.labels) if uri == concept.uri else None
            parent = chain[i + 1] if i + 1 < len(chain) else None
            if uri not in out or (labels and out[uri].labels is None):
                out[uri] = Theme(uri, parent, labels)
    return list(out.values())


def theme_labels(uri: str, carried: dict[str, str] | None) -> dict[str, str]:
    """The labels of a theme bucket by language: those records carry, else the shipped thesaurus's."""
    return {**themes.labels().get(uri, {}), **(carried or {})}


def facet(
    request: FacetRequest,
    counts: Mapping[str, int],
    labels: Mapping[str, dict[str, str]] | None = None,
    parents: Mapping[str, str] | None = None,
) -> Facet:
    """The ``Facet`` of value -> count (values counting 0 are left out), ordered and cut as asked:
    ``count_desc`` (ties by value), ``count_asc``, ``value_asc``, ``value_desc``; ``more`` when
    values were cut."""
    items = [(value, count) for value, count in counts.items() if count > 0]
    if request.order == "count_desc":
        items.sort(key=lambda item: (-item[1], item[0]))
    elif request.order == "count_asc":
        items.sort(key=lambda item: (item[1], item[0]))
    else:
        items.sort(reverse=request.order == "value_desc")
    labels = labels or {}
    parents = parents or {}
    buckets = [
        Bucket(value=value, count=count, labels=labels.get(value) or {}, parent=parents.get(value))
        for value, count in items[: request.size]
    ]
    return Facet(name=request.name, buckets=buckets, more=len(items) > request.size)
