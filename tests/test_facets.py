"""What a record counts under in each facet (``catalogue.facets``) and the ``facets`` parameter."""

from __future__ import annotations

import pytest

from catalogue.facets import facts, format_name, merged, theme_labels, years
from catalogue.query import FACETS, MAX_BUCKETS, FacetRequest, QueryError, parse_facets
from catalogue.record import Concept, Constraints, LocalisedText, Record, TemporalExtent

DT = "https://w3id.org/data-terra/thesaurus/"


@pytest.mark.parametrize(
    ("written", "bucket"),
    [
        ("NetCDF", "NetCDF"),
        ("netCDF-4", "NetCDF"),
        ("NETCDF 3", "NetCDF"),
        ("SHP", "Shapefile"),
        ("ShapeFile", "Shapefile"),
        ("Géodonnée au format SHP", "Shapefile"),
        ("GeoTIF", "GeoTIFF"),
        ("GML (.gml)", "GML"),
        ("gml+xml", "GML"),
        ("application/json", "JSON"),
        ("Microsoft Excel (xlsx)", "Excel"),
        ("  NASA   Ames 1001 ", "NASA Ames 1001"),  # unknown: as written, whitespace collapsed
        ("Darwin Core Archive (DwC-A)", "Darwin Core Archive (DwC-A)"),
        ("unknown", None),
        ("Unknown", None),
        ("", None),
    ],
)
def test_format_names_are_folded_into_one_spelling(written: str, bucket: str | None) -> None:
    assert format_name(written) == bucket


def test_years_merge_overlapping_and_adjacent_extents() -> None:
    assert merged([(2015, 2016), (2001, 2005), (2004, 2008)]) == [(2001, 2008), (2015, 2016)]
    assert merged([(2001, 2002), (2003, 2004)]) == [(2001, 2004)]  # adjacent: one range
    assert merged([(2020, None), (2021, 2022), (1990, 1991)]) == [(1990, 1991), (2020, None)]  # open end
    assert merged([(2018, 2019), (2019, None)]) == [(2018, None)]
    assert merged([]) == []


def test_facts_of_a_record() -> None:
    record = Record(
        id="s.r",
        native_id="r",
        source_id="s",
        title=LocalisedText(text="t"),
        platforms=["Metop-B", " Metop-B ", "Metop  C", ""],
        temporal=[
            TemporalExtent(start="2010-03", end="2012"),
            TemporalExtent(end="1950-06-01"),  # open start: the end year only
            TemporalExtent(start="2015-01-01T00:00:00Z"),  # open end
            TemporalExtent(start_raw="Holocène"),  # nothing readable: no year
        ],
        constraints=Constraints(licence="CC-BY 4.0"),
        concepts=[
            Concept(
                uri=DT + "physical-oceanography",
                labels={"fr": "Océanographie physique"},
                ancestors=[DT + "ocean"],
            ),
            Concept(uri="https://gcmd.earthdata.nasa.gov/kms/concept/x", ancestors=[]),
        ],
    )
    got = facts(record)
    assert got.platforms == ["Metop-B", "Metop C"]
    assert got.years == [(1950, 1950), (2010, 2012), (2015, None)]
    assert got.license == "CC-BY-4.0"
    assert [(t.uri, t.parent, t.labels) for t in got.themes] == [
        (DT + "physical-oceanography", DT + "ocean", {"fr": "Océanographie physique"}),
        (DT + "ocean", None, None),  # an ancestor only: no labels of its own in the record
    ]


def test_theme_labels_are_completed_from_the_shipped_thesaurus() -> None:
    assert theme_labels(DT + "ocean", None) == {"fr": "Océan", "en": "Ocean"}
    assert theme_labels(DT + "ocean", {"fr": "Océan mondial"}) == {"fr": "Océan mondial", "en": "Ocean"}
    assert theme_labels(DT + "nowhere", {"en": "Nowhere"}) == {"en": "Nowhere"}
    assert theme_labels(DT + "nowhere", None) == {}


def test_year_filters_take_years_a_bucket_may_have() -> None:
    assert years(["2015", " 1950 ", 2001]) == [2015, 1950, 2001]
    assert years(["1700", "9999"]) == []  # before FIRST_YEAR, after this year: no bucket
    for bad in ("2015-01", "mmxv", "", "٢٠١٥"):
        with pytest.raises(QueryError, match="year must be a year"):
            years([bad])


def test_parse_facets_reads_name_count_and_order() -> None:
    assert parse_facets("pole, theme:20 ,year:50:value_asc") == [
        FacetRequest("pole"),
        FacetRequest("theme", 20),
        FacetRequest("year", 50, "value_asc"),
    ]
    assert parse_facets(None) == parse_facets("") == []
    assert [f.name for f in parse_facets("true")] == [f.name for f in parse_facets("all")] == list(FACETS)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("colour", "unknown facet 'colour'"),
        ("pole:0", "between 1 and 1000"),
        (f"pole:{MAX_BUCKETS + 1}", "between 1 and 1000"),
        ("pole:many", "whole number"),
        ("pole:5:largest", "unknown order 'largest'"),
        ("pole:5:count_asc:x", "name\\[:bucketCount\\[:order\\]\\]"),
        ("pole,type,pole:3", "asked for twice"),
    ],
)
def test_parse_facets_refuses_what_it_cannot_read(value: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_facets(value)
