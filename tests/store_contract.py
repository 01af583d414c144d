"""The contract every ``Store`` backend passes, whatever it is built on.

A backend's test module subclasses ``StoreContract``, provides a ``store`` fixture (a fresh, empty
store) and implements ``reopen``. The records are real-looking catalogue records of the four poles,
chosen so that every criterion has a case that matches and a near miss that does not: French
accents, a box crossing the antimeridian, several boxes, several temporal extents with a gap, open
ends, partial dates, a record with neither box nor time.

Conventions the backends share (beyond ``catalogue.store``): an open start sorts as the earliest
start and an open end as the latest end; titles sort case- and accent-insensitively; ``q`` has no
prefix or operator syntax (every alternative is a phrase of plain words).

Duplicate groups (see ``catalogue.store``) are tested with SST as other poles republish it: the same
record, DOI included, under their own ids. "Indexed first" is what separate ``upsert`` calls make: the
order within one batch is left to the backend; ``rebuild`` takes the order it is given.

Concepts are those the thesaurus gives (real GCMD and Data Terra URIs, ancestors nearest first): an
aerosol optical depth record whose text never says "aerosols", and SST under ocean temperature.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import msgspec
import pytest

from catalogue.query import Query, QueryError, Sort
from catalogue.record import (
    BBox,
    Concept,
    Contact,
    FairReport,
    Identifier,
    Keyword,
    Link,
    LocalisedText,
    Quality,
    Record,
    TemporalExtent,
    ValidationReport,
)
from catalogue.store import Store

ICE = "aeris-catalogue.carottes-antarctique"
IASI = "aeris-catalogue.iasi-co"
WMS = "aeris-catalogue.wms-visualisation"
ETNA = "formater-catalogue.insar-etna"
ARGO = "odatis-sextant.argo-pacific"
SST = "odatis-sextant.sst-gascogne"
OSO = "theia-oso.oso-2021"
ALL = [ICE, IASI, WMS, ETNA, ARGO, SST, OSO]  # in id order


def _record(record_id: str, **fields: object) -> Record:
    source_id, _, native_id = record_id.partition(".")
    return Record(id=record_id, native_id=native_id, source_id=source_id, **fields)


def _fr(text: str, en: str | None = None) -> LocalisedText:
    return LocalisedText(text=text, lang="fr", translations={"en": en} if en else {})


def _en(text: str) -> LocalisedText:
    return LocalisedText(text=text, lang="en")


def sst() -> Record:
    return _record(
        SST,
        pole="ODATIS",
        title=_fr(
            "Température de surface de la mer - Golfe de Gascogne", "Sea surface temperature - Bay of Biscay"
        ),
        abstract=_fr(
            "Analyse quotidienne de la température de surface de la mer à partir des observations "
            "satellitaires et in situ dans le golfe de Gascogne.",
            "Daily analysis of sea surface temperature from satellite and in situ observations in the "
            "Bay of Biscay.",
        ),
        language="fr",
        identifiers=[Identifier(code="10.12770/sst-gascogne", scheme="doi")],
        keywords=[
            Keyword(label="Océan", lang="fr", type="theme"),
            Keyword(label="Température de la mer", lang="fr", thesaurus="GEMET"),
        ],
        places=["Golfe de Gascogne"],
        bboxes=[BBox(-10.0, 43.0, -1.0, 48.5)],
        temporal=[TemporalExtent(start="2010-01-01", end="2019-12-31")],
        created="2010-03-15",
        metadata_date="2023-05-02",
        contacts=[Contact(role="pointOfContact", organisation="Ifremer", emails=["sextant@ifremer.fr"])],
    )


def iasi() -> Record:
    return _record(
        IASI,
        pole="AERIS",
        resource_type="series",
        title=_en("IASI carbon monoxide total columns"),
        abstract=_en(
            "Daily global total columns of carbon monoxide retrieved from IASI radiances on board the "
            "Metop satellites."
        ),
        language="en",
        keywords=[Keyword(label="Atmospheric chemistry", lang="en")],
        platforms=["Metop-A", "Metop-B"],
        instruments=["IASI"],
        bboxes=[BBox(-180.0, -90.0, 180.0, 90.0)],
        temporal=[TemporalExtent(start="2007-10", indeterminate_end="now")],
        created="2008",
        metadata_date="2024-01-15T08:30:00Z",
    )


def wms() -> Record:
    return _record(
        WMS,
        pole="AERIS",
        resource_type="service",
        title=_fr("Service de visualisation WMS des produits AERIS"),
        abstract=_fr("Service web de visualisation des produits atmosphériques."),
        links=[Link(url="https://wms.aeris-data.fr/wms", protocol="OGC:WMS")],
    )


def etna() -> Record:
    return _record(
        ETNA,
        pole="FORMATER",
        title=_fr("Déformation du sol par interférométrie radar - Etna"),
        abstract=_fr(
            "Séries temporelles de déplacement du sol de l'Etna mesurées par interférométrie radar "
            "Sentinel-1, corrigées des effets de température troposphérique."
        ),
        language="fr",
        keywords=[Keyword(label="Volcanologie", lang="fr", translations={"en": "Volcanology"})],
        concepts=[Concept(uri="https://w3id.org/formater/concept/insar", labels={"fr": "InSAR"})],
        platforms=["Sentinel-1A"],
        bboxes=[BBox(14.8, 37.5, 15.3, 37.9)],
        temporal=[TemporalExtent(start="2015-03", end="2021-06")],
        created="2015-06-01",
        metadata_date="2022",
    )


def argo() -> Record:
    return _record(
        ARGO,
        pole="ODATIS",
        title=_en("Argo float profiles - Pacific Ocean"),
        abstract=_en(
            "Temperature and salinity profiles measured by Argo floats in the tropical and North Pacific."
        ),
        language="en",
        bboxes=[BBox(170.0, -20.0, -170.0, 10.0), BBox(140.0, 20.0, 150.0, 30.0)],
        temporal=[
            TemporalExtent(start="2001", end="2005"),
            TemporalExtent(start="2015-01-01", end="2016-12-31"),
        ],
        created="2001-01-01",
    )


def oso() -> Record:
    return _record(
        OSO,
        pole="THEIA",
        title=_fr("Carte d'occupation des sols OSO 2021"),
        abstract=_fr(
            "Carte d'occupation des sols de la France métropolitaine produite à partir des séries "
            "temporelles Sentinel-2."
        ),
        language="fr",
        keywords=[Keyword(label="Occupation des sols", lang="fr")],
        bboxes=[BBox(-5.2, 41.3, 9.6, 51.1)],
        created="2022-01-10",
        metadata_date="2021-06-30",
    )


def ice() -> Record:
    return _record(
        ICE,
        pole="AERIS",
        title=_fr("Carottes de glace antarctiques - reconstitution paléoclimatique"),
        abstract=_fr("Composition isotopique des carottes de glace de l'Antarctique, de l'Holocène à 1950."),
        language="fr",
        bboxes=[BBox(-180.0, -90.0, 180.0, -60.0)],
        temporal=[TemporalExtent(end="1950", start_raw="Holocène")],
        metadata_date="2019-03-01T10:00:00+02:00",
    )


def catalogue_records() -> list[Record]:
    return [sst(), iasi(), wms(), etna(), argo(), oso(), ice()]


SST_AERIS = "aeris-catalogue.sst-gascogne"
SST_THEIA = "theia-oso.sst-gascogne"
SST_SERIES = "odatis-sextant.sst-serie"  # SST's own source: a series with the same DOI


def republished(record: Record, record_id: str, **changes: object) -> Record:
    """``record`` as the source of ``record_id`` publishes it too."""
    source_id, _, native_id = record_id.partition(".")
    return msgspec.structs.replace(record, id=record_id, source_id=source_id, native_id=native_id, **changes)


def sst_series() -> Record:
    return republished(sst(), SST_SERIES, resource_type="series")


GCMD = "https://gcmd.earthdata.nasa.gov/kms/concept/"
GCMD_SCIENCE = "https://gcmd.earthdata.nasa.gov/kms/concepts/concept_scheme/sciencekeywords"
EARTH_SCIENCE = GCMD + "e9f67a66-e9fc-435c-b720-ae32a2c3d8f5"
ATMOSPHERE = GCMD + "c47f6052-634e-40ef-a5ac-13f69f6f4c2a"
AEROSOLS = GCMD + "2e5a401b-1507-4f57-82b8-36557c13b154"
AEROSOL_OPTICAL_DEPTH = GCMD + "61c3b720-abc8-4430-866c-f1da35d2cd0b"
OCEANS = GCMD + "91697b7d-8f2b-4954-850e-61d5f61c867d"
OCEAN_TEMPERATURE = GCMD + "251c87cd-03b3-464f-8390-8ede2fec28fc"
SEA_SURFACE_TEMPERATURE = GCMD + "bd24a9a9-7d52-4c29-b2a0-6cefd216ae78"
DATA_TERRA = "https://w3id.org/data-terra/thesaurus/"

POLDER = "aeris-catalogue.polder-aot"


def polder() -> Record:
    """Tagged with GCMD "AEROSOL OPTICAL DEPTH/THICKNESS" only: "aerosols" is in no text of its own."""
    return _record(
        POLDER,
        pole="AERIS",
        title=_en("PARASOL/POLDER-3 optical thickness over land"),
        abstract=_en("Daily optical thickness retrieved from POLDER-3 polarised radiances, 2005-2013."),
        language="en",
        keywords=[Keyword(label="AEROSOL OPTICAL DEPTH/THICKNESS", lang="en")],
        concepts=[
            Concept(
                uri=AEROSOL_OPTICAL_DEPTH,
                scheme=GCMD_SCIENCE,
                labels={"en": "AEROSOL OPTICAL DEPTH/THICKNESS"},
                ancestors=[AEROSOLS, ATMOSPHERE, EARTH_SCIENCE],
                ancestor_labels=["AEROSOLS", "ATMOSPHERE", "EARTH SCIENCE"],
            ),
            Concept(
                uri=DATA_TERRA + "atmosphere",
                scheme=DATA_TERRA,
                labels={"fr": "Atmosphère", "en": "Atmosphere"},
                via=["pole:AERIS"],
            ),
        ],
        quality=Quality(fair=FairReport(score=81, level="advanced")),
    )


def themed_sst() -> Record:
    return msgspec.structs.replace(
        sst(),
        concepts=[
            Concept(
                uri=SEA_SURFACE_TEMPERATURE,
                scheme=GCMD_SCIENCE,
                labels={"en": "SEA SURFACE TEMPERATURE"},
                ancestors=[OCEAN_TEMPERATURE, OCEANS, EARTH_SCIENCE],
                ancestor_labels=["OCEAN TEMPERATURE", "OCEANS", "EARTH SCIENCE"],
            ),
            Concept(
                uri=DATA_TERRA + "physical-oceanography",
                scheme=DATA_TERRA,
                labels={"fr": "Océanographie physique", "en": "Physical oceanography"},
                ancestors=[DATA_TERRA + "ocean"],
                ancestor_labels=["Océan", "Ocean"],
                via=[SEA_SURFACE_TEMPERATURE],
            ),
        ],
        quality=Quality(fair=FairReport(score=64, level="moderate")),
    )


def found(store: Store, **criteria: object) -> list[str]:
    """Ids of every record the query matches, in the store's order."""
    return [r.id for r in store.search(Query(limit=100, **criteria)).records]


class StoreContract:
    """Tests any ``Store`` passes; subclasses provide the ``store`` fixture and ``reopen``."""

    def reopen(self, store: Store) -> Store:
        """Close ``store`` and open the same index again (a restart)."""
        raise NotImplementedError

    @pytest.fixture
    def loaded(self, store: Store) -> Store:
        store.upsert(catalogue_records())
        return store

    # --- writes and reads by id -----------------------------------------------------------------

    def test_a_new_store_is_empty(self, store: Store) -> None:
        assert store.count() == 0
        assert store.get(SST) is None
        assert store.ids("odatis-sextant") == set()
        assert store.search(Query()).matched == 0

    def test_records_come_back_as_stored(self, loaded: Store) -> None:
        for record in catalogue_records():
            assert loaded.get(record.id) == record
        assert loaded.get("odatis-sextant.unknown") is None

    def test_count_and_ids_per_source(self, loaded: Store) -> None:
        assert loaded.count() == 7
        assert loaded.count("aeris-catalogue") == 3
        assert loaded.count("odatis-sextant") == 2
        assert loaded.count("nowhere") == 0
        assert loaded.ids("odatis-sextant") == {ARGO, SST}
        assert loaded.ids("nowhere") == set()

    def test_upsert_replaces_a_record_everywhere(self, loaded: Store) -> None:
        moved = msgspec.structs.replace(
            sst(),
            title=_fr("Salinité de surface de la mer - Méditerranée"),
            abstract=None,
            keywords=[],
            places=[],
            identifiers=[],
            bboxes=[BBox(3.0, 40.0, 10.0, 44.0)],
            temporal=[TemporalExtent(start="2020", end="2021")],
        )
        loaded.upsert([moved])
        assert loaded.count() == 7
        assert loaded.get(SST) == moved
        assert found(loaded, q=[["gascogne"]]) == []
        assert found(loaded, q=[["salinite"]]) == [SST]
        assert found(loaded, bbox=(-5.0, 44.0, 0.0, 46.0)) == [IASI, OSO]
        assert found(loaded, bbox=(5.0, 42.0, 6.0, 42.5)) == [IASI, SST, OSO]
        assert found(loaded, time=("2012-01-01T00:00:00Z", "2012-12-31T23:59:59Z")) == [IASI]
        assert found(loaded, time=("2020-06-01T00:00:00Z", "2020-06-01T00:00:00Z")) == [IASI, ETNA, SST]

    def test_upsert_keeps_the_last_of_one_id_in_a_batch(self, store: Store) -> None:
        second = msgspec.structs.replace(sst(), title=_fr("Température de surface - version 2"))
        store.upsert([sst(), second])
        assert store.count() == 1
        assert store.get(SST) == second

    def test_upsert_of_nothing_changes_nothing(self, loaded: Store) -> None:
        loaded.upsert([])
        assert loaded.count() == 7

    def test_delete_removes_records_everywhere(self, loaded: Store) -> None:
        assert loaded.delete([SST, "odatis-sextant.unknown", SST]) == 1
        assert loaded.count() == 6
        assert loaded.get(SST) is None
        assert loaded.ids("odatis-sextant") == {ARGO}
        assert found(loaded, q=[["gascogne"]]) == []
        assert found(loaded, bbox=(-5.0, 44.0, 0.0, 46.0)) == [IASI, OSO]
        assert found(loaded, time=("2012-01-01T00:00:00Z", "2012-12-31T23:59:59Z")) == [IASI]
        assert loaded.delete([SST]) == 0
        assert loaded.delete([]) == 0
        assert loaded.count() == 6

    def test_a_failing_batch_leaves_the_store_unchanged(self, loaded: Store) -> None:
        updated = msgspec.structs.replace(sst(), title=_fr("Titre qui ne doit jamais être indexé"))
        new = _record("odatis-sextant.nouveau", title=_fr("Nouveau jeu de données jamais indexé"))
        broken = _record("odatis-sextant.casse", title=_fr("Lien illisible"), links=[Link(url=object())])
        with pytest.raises(TypeError):
            loaded.upsert([updated, new, broken])
        assert loaded.count() == 7
        assert loaded.get(SST) == sst()
        assert loaded.get(new.id) is None
        assert found(loaded, q=[["jamais"]]) == []

    def test_records_persist_across_reopening(self, loaded: Store) -> None:
        store = self.reopen(loaded)
        try:
            assert store.count() == 7
            assert store.get(ARGO) == argo()
            assert found(store, q=[["gascogne"]]) == [SST]
            assert found(store, bbox=(175.0, -5.0, -175.0, 5.0)) == [IASI, ARGO]
            assert found(store, time=("2008-01-01T00:00:00Z", "2009-12-31T23:59:59Z")) == [IASI]
        finally:
            store.close()

    # --- q ----------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ([["ocean"]], [ARGO, SST]),  # "Océan" keyword and "Pacific Ocean" title
            ([["OCÉAN"]], [ARGO, SST]),
            ([["deformation"]], [ETNA]),
            ([["interferometrie", "radar"]], [ETNA]),
            ([["paleoclimatique"]], [ICE]),
            ([["salinity"]], [ARGO]),
            ([["volcanology"]], [ETNA]),  # keyword translation
            ([["insar"]], [ETNA]),  # concept label
            ([["metop"]], [IASI]),  # platform
            ([["iasi"]], [IASI]),
            ([["ifremer"]], [SST]),  # contact organisation
            ([["10", "12770", "sst", "gascogne"]], [SST]),  # DOI
            ([["bay", "of", "biscay"]], [SST]),  # title translation
        ],
    )
    def test_q_finds_words_whatever_their_case_and_accents(
        self, loaded: Store, q: list[list[str]], expected: list[str]
    ) -> None:
        assert found(loaded, q=q, sortby=[Sort("id")]) == expected

    def test_q_terms_of_one_alternative_form_a_phrase(self, loaded: Store) -> None:
        assert found(loaded, q=[["surface", "de", "la", "mer"]], sortby=[Sort("id")]) == [SST]
        assert found(loaded, q=[["sea", "surface", "temperature"]], sortby=[Sort("id")]) == [SST]
        assert found(loaded, q=[["temperature", "surface"]]) == []
        assert found(loaded, q=[["carbon", "etna"]]) == []

    def test_q_alternatives_are_ored(self, loaded: Store) -> None:
        assert found(loaded, q=[["etna"], ["iasi"]], sortby=[Sort("id")]) == [IASI, ETNA]
        assert found(
            loaded, q=[["golfe", "de", "gascogne"], ["carbon", "monoxide"]], sortby=[Sort("id")]
        ) == [
            IASI,
            SST,
        ]
        assert found(loaded, q=[["etna"], ["nothing", "like", "this"]]) == [ETNA]

    def test_q_ranks_title_hits_first(self, loaded: Store) -> None:
        result = loaded.search(Query(q=[["temperature"]]))
        assert result.matched == 3
        assert result.records[0].id == SST
        assert {r.id for r in result.records} == {SST, ETNA, ARGO}

    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ([['"']], []),
            ([["*"]], []),
            ([['"océan"']], [ARGO, SST]),
            ([["etna*"]], [ETNA]),
            ([["etn*"]], []),  # no prefix syntax
            ([["-etna"]], [ETNA]),
            ([["^etna"]], [ETNA]),
            ([["NEAR(etna"]], []),  # the phrase "near etna"
            ([["NEAR(etna", "iasi)"]], []),
            ([["etna", "AND", "iasi"]], []),
            ([["etna", "OR", "iasi"]], []),
            ([["NOT", "etna"]], []),
            ([["title:etna"]], []),
            ([["etna", ")"]], [ETNA]),
            ([["etna"], ['"']], [ETNA]),
            ([["🌋"]], []),
            ([["海洋"]], []),
            ([["\x00"]], []),
            ([["etna\x00iasi"]], []),
            ([["x" * 5000]], []),
        ],
    )
    def test_q_syntax_characters_are_plain_text(
        self, loaded: Store, q: list[list[str]], expected: list[str]
    ) -> None:
        result = loaded.search(Query(q=q, sortby=[Sort("id")]))
        assert [r.id for r in result.records] == expected
        assert result.matched == len(expected)

    # --- bbox -------------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("bbox", "expected"),
        [
            ((-5.0, 44.0, 0.0, 46.0), [IASI, SST, OSO]),
            ((175.0, -5.0, -175.0, 5.0), [IASI, ARGO]),  # both cross the antimeridian
            ((160.0, -5.0, 175.0, 5.0), [IASI, ARGO]),  # the record's western half
            ((-175.0, -5.0, -160.0, 5.0), [IASI, ARGO]),  # the record's eastern half
            ((-160.0, -5.0, -150.0, 5.0), [IASI]),
            ((145.0, 25.0, 146.0, 26.0), [IASI, ARGO]),  # the record's second box
            ((179.0, 60.0, -179.0, 70.0), [IASI]),
            ((10.0, -85.0, 20.0, -80.0), [ICE, IASI]),
            ((15.0, 37.7, 15.0, 37.7), [IASI, ETNA]),  # a point
            ((-180.0, -90.0, 180.0, 90.0), [ICE, IASI, ETNA, ARGO, SST, OSO]),  # never WMS: no box
        ],
    )
    def test_bbox_finds_records_with_an_intersecting_box(
        self, loaded: Store, bbox: tuple[float, float, float, float], expected: list[str]
    ) -> None:
        assert found(loaded, bbox=bbox) == expected

    # --- datetime ---------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("time", "expected"),
        [
            (("2020-01-01T00:00:00Z", "2020-12-31T23:59:59Z"), [IASI, ETNA]),  # ongoing; ends 2021-06
            (("2008-01-01T00:00:00Z", "2009-12-31T23:59:59Z"), [IASI]),  # in the gap of ARGO's extents
            (("2007-10-01T00:00:00Z", "2007-10-01T00:00:00Z"), [IASI]),  # starts "2007-10"
            (("2007-09-30T23:59:59Z", "2007-09-30T23:59:59Z"), []),
            ((None, "2007-09-30T23:59:59Z"), [ICE, ARGO]),  # ICE has an open start
            (("2021-06-30T23:59:59Z", None), [IASI, ETNA]),  # ends "2021-06": its last second
            (("2021-07-01T00:00:00Z", None), [IASI]),
            (("2005-12-31T23:59:59Z", "2005-12-31T23:59:59Z"), [ARGO]),  # ends "2005"
            (("1900-01-01T00:00:00Z", "1900-12-31T23:59:59Z"), [ICE]),
            (("1951-01-01T00:00:00Z", "2000-12-31T23:59:59Z"), []),
            (("2016-06-01T00:00:00Z", "2016-06-30T23:59:59Z"), [IASI, ETNA, ARGO, SST]),
        ],
    )
    def test_datetime_finds_records_with_an_intersecting_extent(
        self, loaded: Store, time: tuple[str | None, str | None], expected: list[str]
    ) -> None:
        assert found(loaded, time=time) == expected

    def test_datetime_compares_in_utc(self, store: Store) -> None:
        early = _record(
            "theia-oso.paris",
            title=_fr("Heure de Paris"),
            temporal=[TemporalExtent(start="2020-01-01T01:00:00+02:00", end="2020-01-01T01:30:00+02:00")],
            metadata_date="2020-01-01T01:00:00+02:00",
        )
        late = _record("theia-oso.utc", title=_fr("Heure UTC"), metadata_date="2019-12-31T23:30:00Z")
        store.upsert([late, early])
        assert found(store, time=("2019-12-31T23:10:00Z", "2019-12-31T23:20:00Z")) == [early.id]
        assert found(store, time=("2020-01-01T00:00:00Z", None)) == []
        assert found(store, sortby=[Sort("updated")]) == [early.id, late.id]

    # --- equality ---------------------------------------------------------------------------------

    def test_ids_types_and_properties_select_records(self, loaded: Store) -> None:
        assert found(loaded, ids=[SST, ETNA, "odatis-sextant.unknown"]) == [ETNA, SST]
        assert found(loaded, types=["service"]) == [WMS]
        assert found(loaded, types=["series", "service"]) == [IASI, WMS]
        assert found(loaded, properties={"pole": ["ODATIS"]}) == [ARGO, SST]
        assert found(loaded, properties={"source": ["aeris-catalogue"]}) == [ICE, IASI, WMS]
        assert found(loaded, properties={"language": ["en"]}) == [IASI, ARGO]
        assert found(loaded, properties={"type": ["dataset"]}) == [ICE, ETNA, ARGO, SST, OSO]
        assert found(loaded, properties={"pole": ["ODATIS", "THEIA"], "language": ["fr"]}) == [SST, OSO]
        assert found(loaded, properties={"pole": ["odatis"]}) == []

    def test_every_criterion_is_anded(self, loaded: Store) -> None:
        criteria = {
            "q": [["temperature"]],
            "bbox": (-20.0, 30.0, 20.0, 60.0),
            "time": ("2015-01-01T00:00:00Z", "2015-12-31T23:59:59Z"),
        }
        assert found(loaded, **criteria, sortby=[Sort("id")]) == [ETNA, SST]
        assert found(loaded, **criteria, properties={"pole": ["ODATIS"]}) == [SST]
        assert found(loaded, **criteria, ids=[ETNA, ARGO]) == [ETNA]
        assert found(loaded, **criteria, types=["series"]) == []

    def test_unknown_property_or_sort_field_is_a_query_error(self, loaded: Store) -> None:
        with pytest.raises(QueryError):
            loaded.search(Query(properties={"colour": ["blue"]}))
        with pytest.raises(QueryError):
            loaded.search(Query(sortby=[Sort("colour")]))

    # --- sorting and paging -----------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("sortby", "expected"),
        [
            ([], ALL),
            ([Sort("id", False)], ALL[::-1]),
            ([Sort("title")], [ARGO, ICE, OSO, ETNA, IASI, WMS, SST]),  # "Déformation" among the d's
            ([Sort("title", False)], [SST, WMS, IASI, ETNA, OSO, ICE, ARGO]),
            ([Sort("updated", False)], [IASI, SST, ETNA, OSO, ICE, WMS, ARGO]),  # no date: last, by id
            ([Sort("updated")], [ICE, OSO, ETNA, SST, IASI, WMS, ARGO]),
            ([Sort("created")], [ARGO, IASI, SST, ETNA, OSO, ICE, WMS]),
            ([Sort("start")], [ICE, ARGO, IASI, SST, ETNA, WMS, OSO]),  # open start first
            ([Sort("end", False)], [IASI, ETNA, SST, ARGO, ICE, WMS, OSO]),  # ongoing first
            ([Sort("end")], [ICE, ARGO, SST, ETNA, IASI, WMS, OSO]),
        ],
    )
    def test_sortby_orders_with_missing_values_last(
        self, loaded: Store, sortby: list[Sort], expected: list[str]
    ) -> None:
        assert found(loaded, sortby=sortby) == expected

    def test_sortby_applies_keys_in_order_then_id(self, store: Store) -> None:
        def titled(native: str, title: str, updated: str | None) -> Record:
            return _record(f"odatis-sextant.{native}", title=_fr(title), metadata_date=updated)

        store.upsert(
            [
                titled("c", "Houle", "2021"),
                titled("a", "Houle", "2021-01-01T00:00:00Z"),
                titled("b", "houle", "2022"),
                titled("d", "Marée", None),
            ]
        )
        by_title_then_updated = [Sort("title"), Sort("updated", False)]
        assert found(store, sortby=by_title_then_updated) == [
            "odatis-sextant.b",
            "odatis-sextant.a",
            "odatis-sextant.c",
            "odatis-sextant.d",
        ]
        assert found(store, q=[["houle"]], sortby=[Sort("title")]) == [
            "odatis-sextant.a",
            "odatis-sextant.b",
            "odatis-sextant.c",
        ]

    def test_matched_counts_all_results_not_the_page(self, loaded: Store) -> None:
        first = loaded.search(Query(limit=2))
        assert [r.id for r in first.records] == [ICE, IASI]
        assert first.matched == 7
        last = loaded.search(Query(limit=2, offset=6))
        assert [r.id for r in last.records] == [OSO]
        assert last.matched == 7
        beyond = loaded.search(Query(limit=2, offset=10))
        assert beyond.records == []
        assert beyond.matched == 7
        pacific = loaded.search(Query(bbox=(175.0, -5.0, -175.0, 5.0), limit=1))
        assert [r.id for r in pacific.records] == [IASI]
        assert pacific.matched == 2
        for criteria in ({}, {"q": [["temperature"]]}, {"q": [["temperature"]], "types": ["dataset"]}):
            counted = loaded.search(Query(limit=0, **criteria))
            assert (counted.records, counted.matched) == ([], 7 if not criteria else 3)
            missed = loaded.search(Query(**{**criteria, "q": [["cryosphere"]]}, limit=5, offset=5))
            assert (missed.records, missed.matched) == ([], 0)

    @pytest.mark.parametrize(
        "criteria",
        [
            {},
            {"sortby": [Sort("title")]},
            {"sortby": [Sort("updated", False)]},
            {"sortby": [Sort("start"), Sort("title", False)]},
            {"q": [["temperature"]]},  # equal relevance everywhere: order must still be stable
            {"q": [["temperature"]], "bbox": (-20.0, 30.0, 20.0, 60.0), "sortby": [Sort("end", False)]},
        ],
    )
    def test_paging_loses_and_repeats_nothing(self, store: Store, criteria: dict[str, object]) -> None:
        store.upsert(many_records(53))
        everything = store.search(Query(limit=1000, **criteria))
        seen: list[str] = []
        for offset in range(0, 60, 7):
            page = store.search(Query(limit=7, offset=offset, **criteria))
            assert page.matched == everything.matched
            seen.extend(r.id for r in page.records)
        assert seen == [r.id for r in everything.records]
        assert len(set(seen)) == len(seen) == everything.matched
        assert everything.matched == (53 if "bbox" not in criteria else 27)

    # --- duplicate groups -------------------------------------------------------------------------

    def test_another_source_with_the_same_doi_is_a_duplicate_of_the_first_indexed(
        self, loaded: Store
    ) -> None:
        copy = republished(sst(), SST_AERIS)
        loaded.upsert([copy])
        assert loaded.group(SST) == loaded.group(SST_AERIS) == [SST, SST_AERIS]
        assert loaded.duplicates_of([SST, SST_AERIS, ARGO, "aeris-catalogue.unknown"]) == {SST_AERIS: SST}
        assert loaded.group(ARGO) == loaded.group("aeris-catalogue.unknown") == []
        assert loaded.duplicates_of([]) == {}
        assert loaded.get(SST_AERIS) == copy
        assert (loaded.count(), loaded.count("aeris-catalogue")) == (8, 4)
        assert SST_AERIS in loaded.ids("aeris-catalogue")

    def test_search_serves_the_primary_only_unless_ids_are_asked(self, loaded: Store) -> None:
        loaded.upsert([republished(sst(), SST_AERIS)])
        assert found(loaded) == ALL
        assert found(loaded, q=[["gascogne"]]) == [SST]
        assert found(loaded, q=[["gascogne"]], types=["dataset"]) == [SST]
        assert found(loaded, bbox=(-5.0, 44.0, 0.0, 46.0)) == [IASI, SST, OSO]
        assert found(loaded, properties={"source": ["aeris-catalogue"]}) == [ICE, IASI, WMS]
        for criteria in ({}, {"q": [["gascogne"]]}, {"q": [["gascogne"]], "types": ["dataset"]}):
            for limit in (0, 1, 100):
                assert loaded.search(Query(limit=limit, **criteria)).matched == (7 if not criteria else 1)
        assert found(loaded, ids=[SST_AERIS]) == [SST_AERIS]
        assert found(loaded, ids=[SST, SST_AERIS], q=[["gascogne"]]) == [SST_AERIS, SST]
        assert loaded.search(Query(ids=[SST, SST_AERIS], limit=1)).matched == 2

    def test_the_first_indexed_stays_primary_when_either_is_updated(self, store: Store) -> None:
        copy = republished(sst(), SST_AERIS)
        store.upsert([copy])
        store.upsert([sst()])
        assert store.group(SST) == [SST_AERIS, SST]
        store.upsert([msgspec.structs.replace(copy, title=_fr("Température de surface (mise à jour)"))])
        store.upsert([msgspec.structs.replace(sst(), title=_fr("Température de surface (révisée)"))])
        assert store.group(SST) == [SST_AERIS, SST]
        assert found(store) == [SST_AERIS]

    def test_records_of_one_source_never_group(self, loaded: Store) -> None:
        loaded.upsert([sst_series()])
        assert loaded.group(SST) == loaded.group(SST_SERIES) == []
        assert loaded.duplicates_of([SST, SST_SERIES]) == {}
        assert found(loaded, q=[["gascogne"]], sortby=[Sort("id")]) == [SST, SST_SERIES]
        # Another source's copy joins the first indexed of the two; a group has one record per source.
        loaded.upsert([republished(sst(), SST_AERIS)])
        assert loaded.group(SST) == [SST, SST_AERIS]
        assert loaded.group(SST_SERIES) == []
        assert found(loaded, q=[["gascogne"]], sortby=[Sort("id")]) == [SST, SST_SERIES]

    def test_deleting_the_primary_promotes_the_next_indexed(self, loaded: Store) -> None:
        loaded.upsert([republished(sst(), SST_THEIA)])
        loaded.upsert([republished(sst(), SST_AERIS)])
        assert loaded.group(SST_AERIS) == [SST, SST_THEIA, SST_AERIS]
        assert loaded.delete([SST]) == 1
        assert loaded.group(SST_AERIS) == [SST_THEIA, SST_AERIS]
        assert loaded.duplicates_of([SST_AERIS, SST_THEIA]) == {SST_AERIS: SST_THEIA}
        assert found(loaded, q=[["gascogne"]]) == [SST_THEIA]
        loaded.delete([SST_THEIA])
        assert loaded.group(SST_AERIS) == []
        assert found(loaded, q=[["gascogne"]]) == [SST_AERIS]

    def test_an_update_that_drops_the_shared_key_splits_the_group(self, loaded: Store) -> None:
        copy = republished(sst(), SST_AERIS)
        loaded.upsert([copy])
        other_doi = [Identifier(code="10.25326/autre-jeu", scheme="doi")]
        loaded.upsert([msgspec.structs.replace(copy, identifiers=other_doi)])
        assert loaded.group(SST) == loaded.group(SST_AERIS) == []
        assert found(loaded, q=[["gascogne"]], sortby=[Sort("id")]) == [SST_AERIS, SST]
        loaded.upsert([copy])
        assert loaded.group(SST) == [SST, SST_AERIS]
        # The primary losing the key frees the duplicate; getting it back, it leads again (indexed first).
        loaded.upsert([msgspec.structs.replace(sst(), identifiers=[])])
        assert loaded.group(SST_AERIS) == []
        assert found(loaded, q=[["gascogne"]], sortby=[Sort("id")]) == [SST_AERIS, SST]
        loaded.upsert([sst()])
        assert loaded.group(SST_AERIS) == [SST, SST_AERIS]

    def test_uri_identifiers_group_and_local_codes_do_not(self, store: Store) -> None:
        published = [
            ("odatis-sextant.mnt", "https://data.example.org/bathy/MNT-2020"),
            ("formater-catalogue.mnt", " HTTPS://Data.Example.ORG/bathy/MNT-2020 "),  # same URI
            ("theia-oso.mnt", "https://data.example.org/bathy/mnt-2020"),  # a path is case-sensitive
            ("odatis-sextant.uuid", "urn:uuid:5f0c6a7e-2b1d-4c3e-9a8f-7d6e5c4b3a21"),
            ("aeris-catalogue.uuid", "URN:UUID:5f0c6a7e-2b1d-4c3e-9a8f-7d6e5c4b3a21"),
            ("odatis-sextant.local", "dataset-42"),
            ("aeris-catalogue.local", "dataset-42"),
            ("odatis-sextant.site", "https://www.ifremer.fr/"),  # a site, not a dataset
            ("aeris-catalogue.site", "https://www.ifremer.fr/"),
        ]
        for record_id, code in published:
            store.upsert([_record(record_id, title=_fr("Bathymétrie"), identifiers=[Identifier(code=code)])])
        assert store.group("formater-catalogue.mnt") == ["odatis-sextant.mnt", "formater-catalogue.mnt"]
        assert store.group("theia-oso.mnt") == []
        assert store.group("aeris-catalogue.uuid") == ["odatis-sextant.uuid", "aeris-catalogue.uuid"]
        ungrouped = [
            "odatis-sextant.local",
            "aeris-catalogue.local",
            "odatis-sextant.site",
            "aeris-catalogue.site",
        ]
        assert store.duplicates_of(ungrouped) == {}
        assert store.search(Query()).matched == len(published) - 2

    def test_a_record_sharing_keys_with_two_groups_joins_them(self, store: Store) -> None:
        uri = Identifier(code="https://data.example.org/sst-gascogne")
        store.upsert([sst()])  # the DOI
        store.upsert([republished(sst(), SST_THEIA, identifiers=[uri])])  # the URI: a group of its own
        assert store.group(SST) == []
        store.upsert([republished(sst(), SST_AERIS, identifiers=[*sst().identifiers, uri])])  # both
        assert store.group(SST_THEIA) == [SST, SST_THEIA, SST_AERIS]
        assert found(store) == [SST]
        store.delete([SST_AERIS])
        assert store.group(SST) == []
        assert found(store) == [SST, SST_THEIA]

    # --- concepts and quality -----------------------------------------------------------------------

    def test_a_search_finds_a_record_by_the_labels_of_its_concepts_ancestors(self, loaded: Store) -> None:
        assert found(loaded, q=[["aerosols"]]) == []
        loaded.upsert([polder(), themed_sst()])
        assert found(loaded, q=[["aerosols"]]) == [POLDER]
        assert found(loaded, q=[["earth", "science"]]) == [POLDER, SST]
        assert found(loaded, q=[["oceans"]]) == [SST]
        # an ancestor's label weighs least: the title hit comes first
        assert [r.id for r in loaded.search(Query(q=[["ocean"]])).records] == [ARGO, SST]
        loaded.upsert([sst()])  # its concepts gone, and their ancestors' labels with them
        assert found(loaded, q=[["earth", "science"]]) == [POLDER]

    @pytest.mark.parametrize(
        ("themes", "expected"),
        [
            ([AEROSOL_OPTICAL_DEPTH], [POLDER]),
            ([AEROSOLS], [POLDER]),  # through an ancestor
            ([EARTH_SCIENCE], [POLDER, SST]),
            ([AEROSOLS, OCEAN_TEMPERATURE], [POLDER, SST]),  # values are ORed
            ([DATA_TERRA + "ocean"], [SST]),  # a theme's compartment
            ([DATA_TERRA + "atmosphere"], [POLDER]),
            ([SEA_SURFACE_TEMPERATURE + "-anomaly"], []),
            ([GCMD + "904f3b34-20c8-4eb8-bf68-6304edecf945"], []),  # narrower than the record's concept
        ],
    )
    def test_a_theme_matches_records_having_the_concept_or_a_narrower_one(
        self, loaded: Store, themes: list[str], expected: list[str]
    ) -> None:
        loaded.upsert([polder(), themed_sst()])
        assert found(loaded, properties={"theme": themes}) == expected

    def test_a_theme_is_anded_with_other_criteria_and_follows_updates(self, loaded: Store) -> None:
        loaded.upsert([polder(), themed_sst(), republished(themed_sst(), SST_AERIS)])
        assert found(loaded, properties={"theme": [EARTH_SCIENCE], "pole": ["ODATIS"]}) == [SST]
        assert found(loaded, q=[["temperature"]], properties={"theme": [EARTH_SCIENCE]}) == [SST]
        assert found(loaded, q=[["optical"]], properties={"theme": [OCEANS]}) == []
        assert found(loaded, bbox=(-5.0, 44.0, 0.0, 46.0), properties={"theme": [OCEANS]}) == [SST]
        assert found(loaded, ids=[SST_AERIS], properties={"theme": [OCEANS]}) == [SST_AERIS]
        assert loaded.search(Query(properties={"theme": [EARTH_SCIENCE]}, limit=1)).matched == 2
        loaded.upsert([sst()])
        assert found(loaded, properties={"theme": [OCEANS]}) == []  # the duplicate is not served
        loaded.delete([POLDER])
        assert found(loaded, properties={"theme": [EARTH_SCIENCE]}) == []

    def test_fair_level_selects_and_fair_sorts_by_score(self, loaded: Store) -> None:
        loaded.upsert([polder(), themed_sst()])
        assert found(loaded, properties={"fair_level": ["advanced"]}) == [POLDER]
        assert found(loaded, properties={"fair_level": ["moderate", "advanced"]}) == [POLDER, SST]
        assert found(loaded, properties={"fair_level": ["initial"]}) == []
        assert found(loaded, sortby=[Sort("fair", False)]) == [POLDER, SST, ICE, IASI, WMS, ETNA, ARGO, OSO]
        assert found(loaded, sortby=[Sort("fair")])[:2] == [SST, POLDER]  # unassessed records last
        assert found(loaded, q=[["temperature"]], sortby=[Sort("fair", False)]) == [SST, ETNA, ARGO]
        loaded.upsert([sst()])
        assert found(loaded, properties={"fair_level": ["moderate"]}) == []

    def test_unvalidated_lists_a_sources_records_without_a_current_report(self, loaded: Store) -> None:
        def validated(record: Record, shapes: str) -> Record:
            report = ValidationReport(conforms=True, shapes=shapes)
            assessed = msgspec.structs.replace(record.quality or Quality(), validation=report)
            return msgspec.structs.replace(record, quality=assessed)

        def aeris(*ids: str) -> list[str]:  # in indexing order
            return [r.id for r in loaded.scan() if r.source_id == "aeris-catalogue" and r.id in ids]

        assert loaded.unvalidated("aeris-catalogue", "v2") == aeris(ICE, IASI, WMS)
        loaded.upsert([validated(iasi(), "v2"), validated(polder(), "v1")])
        assert loaded.unvalidated("aeris-catalogue", "v2") == aeris(ICE, WMS, POLDER)  # v1 is stale
        assert loaded.unvalidated("aeris-catalogue", "v1") == aeris(ICE, IASI, WMS)
        assert loaded.unvalidated("odatis-sextant", "v2") == [
            r.id for r in loaded.scan() if r.source_id == "odatis-sextant"
        ]
        assert loaded.unvalidated("nowhere", "v2") == []
        loaded.upsert([iasi()])  # a new version without a report: to validate again
        assert loaded.unvalidated("aeris-catalogue", "v2") == aeris(ICE, IASI, WMS, POLDER)

    # --- scan and rebuild ---------------------------------------------------------------------------

    def test_scan_gives_every_record_in_indexing_order(self, store: Store) -> None:
        for record in (oso(), sst(), republished(sst(), SST_AERIS), polder()):
            store.upsert([record])
        revised = msgspec.structs.replace(oso(), title=_fr("Carte d'occupation des sols OSO 2021, v2"))
        store.upsert([revised])  # an update keeps its place
        assert list(store.scan()) == [revised, sst(), republished(sst(), SST_AERIS), polder()]

    def test_scan_reads_one_snapshot(self, loaded: Store) -> None:
        scan = loaded.scan()
        first = next(scan)
        loaded.delete([ARGO])
        loaded.upsert([polder()])
        scanned = [first, *scan]
        assert sorted(r.id for r in scanned) == ALL  # ARGO still, POLDER not yet
        assert loaded.get(ARGO) is None
        assert [r.id for r in loaded.scan()][-1] == POLDER

    def test_rebuild_replaces_the_whole_content(self, loaded: Store) -> None:
        moved = msgspec.structs.replace(sst(), title=_fr("Salinité de surface de la mer - Méditerranée"))
        assert loaded.rebuild([moved, polder(), oso()]) == 3
        assert loaded.count() == 3
        assert loaded.ids("aeris-catalogue") == {POLDER}
        assert loaded.get(SST) == moved and loaded.get(ETNA) is None
        assert found(loaded) == [POLDER, SST, OSO]
        assert found(loaded, q=[["paleoclimatique"], ["volcanology"]]) == []
        assert found(loaded, q=[["salinite"]]) == [SST]
        assert found(loaded, q=[["aerosols"]]) == [POLDER]
        assert found(loaded, properties={"theme": [AEROSOLS]}) == [POLDER]
        assert found(loaded, bbox=(175.0, -5.0, -175.0, 5.0)) == []
        assert found(loaded, time=("2012-01-01T00:00:00Z", "2012-12-31T23:59:59Z")) == [SST]
        assert loaded.rebuild([]) == 0
        assert loaded.count() == 0 and found(loaded, q=[["salinite"]]) == []

    def test_rebuild_order_decides_duplicate_primaries(self, loaded: Store) -> None:
        copy = republished(sst(), SST_AERIS)
        loaded.upsert([copy])
        assert loaded.group(SST) == [SST, SST_AERIS]
        # far apart in the iterable, so that a backend writing in batches puts them in two
        assert loaded.rebuild([copy, *many_records(1200), *catalogue_records()]) == 1208
        assert loaded.group(SST) == [SST_AERIS, SST]
        assert found(loaded, q=[["gascogne"]]) == [SST_AERIS]
        assert [r.id for r in loaded.scan()][:2] == [SST_AERIS, "odatis-sextant.lot-000"]
        revised = msgspec.structs.replace(copy, title=_fr("Température de surface (révisée)"))
        assert loaded.rebuild([*catalogue_records(), copy, revised]) == 8  # the last version, first place
        assert loaded.group(SST) == [SST, SST_AERIS]
        assert loaded.get(SST_AERIS) == revised
        assert [r.id for r in loaded.scan()] == [r.id for r in catalogue_records()] + [SST_AERIS]

    def test_a_rebuild_failing_midway_changes_nothing(self, loaded: Store) -> None:
        loaded.upsert([republished(sst(), SST_AERIS)])

        def failing() -> Iterator[Record]:
            yield from many_records(1200)
            raise OSError("the ledger became unreadable")

        with pytest.raises(OSError, match="ledger"):
            loaded.rebuild(failing())
        broken = _record("odatis-sextant.casse", title=_fr("Lien illisible"), links=[Link(url=object())])
        with pytest.raises(TypeError):
            loaded.rebuild([*many_records(1200), broken])
        assert loaded.count() == 8
        assert [r.id for r in loaded.scan()] == [r.id for r in catalogue_records()] + [SST_AERIS]
        assert loaded.get("odatis-sextant.lot-000") is None
        assert found(loaded, q=[["temperature"]], sortby=[Sort("id")]) == [ETNA, ARGO, SST]
        assert loaded.group(SST_AERIS) == [SST, SST_AERIS]
        assert loaded.rebuild(catalogue_records()) == 7  # and the store still works

    def test_readers_see_the_old_content_until_a_rebuild_completes(self, loaded: Store) -> None:
        def seen() -> tuple[int, int]:  # two reads: a rebuild may complete between them
            return loaded.count(), loaded.search(Query(q=[["temperature"]], limit=0)).matched

        old, new = (7, 3), (1200, 1200)
        midway: list[tuple[int, int]] = []
        throughout: list[tuple[int, int]] = []
        stop = threading.Event()

        def read_from_another_thread() -> None:
            thread = threading.Thread(target=lambda: midway.append(seen()))
            thread.start()
            thread.join()

        def read_until_stopped() -> None:
            while not stop.is_set():
                throughout.append(seen())

        def records() -> Iterator[Record]:
            for i, record in enumerate(many_records(1200)):
                if i in (300, 700, 1199):
                    read_from_another_thread()
                    midway.append(seen())  # the rebuilding thread itself
                yield record

        reader = threading.Thread(target=read_until_stopped)
        reader.start()
        try:
            assert loaded.rebuild(records()) == 1200
        finally:
            stop.set()
            reader.join()
        assert midway == [old] * 6
        assert throughout
        assert {count for count, _ in throughout} <= {old[0], new[0]}
        assert {matched for _, matched in throughout} <= {old[1], new[1]}
        assert seen() == new


def many_records(n: int) -> list[Record]:
    """``n`` records with few distinct titles, dates and boxes: many ties for paging to get right.
    Even ones are in the Bay of Biscay, odd ones in the Pacific."""
    titles = [
        "Température de surface",
        "température de surface",
        "Temperature anomalies",
        "Écart de température",
    ]
    records = []
    for i in range(n):
        box = BBox(-5.0, 44.0, -2.0, 46.0) if i % 2 == 0 else BBox(170.0, -10.0, -170.0, 10.0)
        records.append(
            _record(
                f"odatis-sextant.lot-{i:03d}",
                title=_fr(titles[i % len(titles)]),
                bboxes=[box],
                temporal=[
                    TemporalExtent(start=f"{2000 + i % 5}", end=None if i % 3 == 0 else f"{2010 + i % 4}")
                ],
                metadata_date=None if i % 6 == 0 else f"2020-0{1 + i % 3}-01",
            )
        )
    return records
