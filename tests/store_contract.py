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

import json
import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime

import msgspec
import pytest

from catalogue.query import (
    EQUALITY_PROPERTIES,
    FACETS,
    MAX_BUCKETS,
    Facet,
    FacetRequest,
    Query,
    QueryError,
    Sort,
    parse_external_ids,
    parse_filter,
)
from catalogue.record import (
    BBox,
    Concept,
    Constraints,
    Contact,
    FairReport,
    Format,
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


class StoreContract(ABC):
    """Tests any ``Store`` passes; subclasses provide the ``store`` fixture and ``reopen``."""

    @abstractmethod
    def reopen(self, store: Store) -> Store:
        """Close ``store`` and open the same index again (a restart)."""

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

    def test_an_extent_written_backwards_is_kept_and_found_by_its_ends(self, store: Store) -> None:
        """The crosswalks keep an extent ending before it begins (noting a problem); every backend
        stores it (Elasticsearch's range fields refuse one as it stands) and tests its ends as written:
        it starts before a span's end and ends after its start."""
        backwards = _record(
            "theia-oso.backwards",
            title=_fr("Fin avant le début"),
            temporal=[TemporalExtent(start="2012-06-01", end="2010-01-01")],
        )
        store.upsert([backwards])
        assert store.get(backwards.id) == backwards
        assert found(store, time=("2009-01-01T00:00:00Z", "2013-12-31T23:59:59Z")) == [backwards.id]
        assert found(store, time=("2009-01-01T00:00:00Z", None)) == [backwards.id]
        assert found(store, time=(None, "2013-12-31T23:59:59Z")) == [backwards.id]
        assert found(store, time=("2011-01-01T00:00:00Z", "2011-12-31T23:59:59Z")) == []
        assert found(store, time=("2010-06-01T00:00:00Z", None)) == []
        assert found(store, time=(None, None)) == [backwards.id]

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

    # --- facets -------------------------------------------------------------------------------------

    @pytest.fixture
    def faceted(self, loaded: Store) -> Store:
        """The catalogue with themes, formats, licences and platforms, and a duplicate (never counted)."""
        loaded.upsert([faceted_sst(), faceted_polder(), faceted_argo()])
        loaded.upsert([republished(faceted_sst(), SST_AERIS, pole="AERIS")])
        return loaded

    def test_facets_count_every_match_per_value(self, faceted: Store) -> None:
        result = faceted.search(Query(facets=[FacetRequest(name) for name in FACETS], limit=1))
        assert result.matched == 8 and len(result.records) == 1
        assert [f.name for f in result.facets] == list(FACETS)
        got = {f.name: counts(f) for f in result.facets}
        assert got["pole"] == {"AERIS": 4, "ODATIS": 2, "FORMATER": 1, "THEIA": 1}
        assert got["source"] == {
            "aeris-catalogue": 4,
            "odatis-sextant": 2,
            "formater-catalogue": 1,
            "theia-oso": 1,
        }
        assert got["type"] == {"dataset": 6, "series": 1, "service": 1}
        # Data Terra concepts only (no GCMD one), a record under its themes' compartments too
        assert got["theme"] == {
            DATA_TERRA + "ocean": 2,
            DATA_TERRA + "physical-oceanography": 1,
            DATA_TERRA + "atmosphere": 1,
        }
        assert got["platform"] == {"Metop-B": 2, "Metop-A": 1, "Sentinel-1A": 1}
        assert got["instrument"] == {"IASI": 1}
        assert got["format"] == {"NetCDF": 1, "HDF5": 1}  # "netCDF-4" is NetCDF, counted once
        assert got["license"] == {"CC-BY-4.0": 1, "other": 1}
        assert got["fair_level"] == {"moderate": 1, "advanced": 1}

    def test_the_year_facet_counts_each_year_an_extent_covers(self, faceted: Store) -> None:
        this_year = datetime.now(UTC).year
        (years,) = faceted.search(Query(facets=[FacetRequest("year", size=1000, order="value_asc")])).facets
        got = counts(years)
        # ICE ends in 1950 and its start is unknown: 1950 only. ARGO: 2001-2005 and 2015-2016.
        # IASI: from 2007 to this year (open end). SST: 2010-2019. ETNA: 2015-2021.
        assert list(got)[:7] == ["1950", "2001", "2002", "2003", "2004", "2005", "2007"]
        assert got["1950"] == 1 and "2006" not in got and got["2008"] == 1 and got["2012"] == 2
        assert got["2015"] == 4 and got["2017"] == 3 and got["2020"] == 2 and got["2022"] == 1
        assert list(got)[-1] == str(this_year) and got[str(this_year)] == 1
        assert not years.more

    def test_the_year_facet_leaves_out_years_before_1800(self, store: Store) -> None:
        old = _record(
            "theia-oso.archives",
            title=_fr("Archives"),
            temporal=[TemporalExtent(start="1500", end="1600"), TemporalExtent(start="1790-05", end="1801")],
        )
        store.upsert([old])
        (years,) = store.search(Query(facets=[FacetRequest("year")])).facets
        assert counts(years) == {"1800": 1, "1801": 1}

    def test_theme_buckets_carry_labels_and_their_broader_theme(self, faceted: Store) -> None:
        (themes,) = faceted.search(Query(facets=[FacetRequest("theme")])).facets
        by_value = {b.value: b for b in themes.buckets}
        ocean = by_value[DATA_TERRA + "ocean"]
        assert ocean.labels == {"fr": "Océan", "en": "Ocean"} and ocean.parent is None
        physical = by_value[DATA_TERRA + "physical-oceanography"]
        assert physical.labels == {"fr": "Océanographie physique", "en": "Physical oceanography"}
        assert physical.parent == DATA_TERRA + "ocean"
        assert by_value[DATA_TERRA + "atmosphere"].labels == {"fr": "Atmosphère", "en": "Atmosphere"}

    def test_a_compartment_reached_only_as_an_ancestor_has_its_labels(self, store: Store) -> None:
        store.upsert([themed_sst()])  # physical oceanography, under the ocean compartment
        (themes,) = store.search(Query(facets=[FacetRequest("theme")])).facets
        by_value = {b.value: b for b in themes.buckets}
        assert by_value[DATA_TERRA + "ocean"].labels == {"fr": "Océan", "en": "Ocean"}
        assert by_value[DATA_TERRA + "physical-oceanography"].parent == DATA_TERRA + "ocean"

    @pytest.mark.parametrize(
        "criteria",
        [
            {},
            {"q": [["temperature"]]},
            {"q": [["temperature"]], "sortby": [Sort("title")]},
            {"bbox": (-20.0, 30.0, 20.0, 60.0)},
            {"time": ("2015-06-01T00:00:00Z", None)},
            {"properties": {"pole": ["ODATIS", "AERIS"]}},
            {"properties": {"theme": [DATA_TERRA + "ocean"]}},
            {"types": ["dataset"], "q": [["sol"], ["carbon"]]},
            {"q": [["nowhere"]]},
        ],
    )
    def test_facets_agree_with_matched_under_any_criteria(
        self, faceted: Store, criteria: dict[str, object]
    ) -> None:
        every = [FacetRequest(name, size=MAX_BUCKETS) for name in ("pole", "source", "type", "theme")]
        result = faceted.search(Query(facets=every, limit=2, **criteria))
        pole, source, kind, theme = (counts(f) for f in result.facets)
        all_ids = found(faceted, **criteria)
        assert result.matched == len(all_ids)
        assert sum(pole.values()) == sum(source.values()) == sum(kind.values()) == result.matched
        matched = [faceted.get(i) for i in all_ids]
        assert pole == tally(r.pole for r in matched)
        assert theme.get(DATA_TERRA + "ocean", 0) == sum(r.id in (SST, ARGO) for r in matched)

    def test_facets_of_a_search_by_id_count_the_duplicates_it_names(self, faceted: Store) -> None:
        result = faceted.search(Query(ids=[SST_AERIS, SST], facets=[FacetRequest("pole")]))
        assert result.matched == 2
        assert counts(result.facets[0]) == {"AERIS": 1, "ODATIS": 1}

    def test_facets_come_with_an_empty_page_and_past_the_end(self, faceted: Store) -> None:
        for limit, offset in ((0, 0), (10, 50)):
            result = faceted.search(Query(facets=[FacetRequest("type")], limit=limit, offset=offset))
            assert result.records == [] and result.matched == 8
            assert counts(result.facets[0]) == {"dataset": 6, "series": 1, "service": 1}

    def test_no_match_gives_facets_without_buckets(self, faceted: Store) -> None:
        result = faceted.search(Query(q=[["nowhere"]], facets=[FacetRequest("pole"), FacetRequest("year")]))
        assert result.facets == [Facet(name="pole"), Facet(name="year")]

    @pytest.mark.parametrize(
        ("order", "size", "expected", "more"),
        [
            ("count_desc", 10, [("AERIS", 4), ("ODATIS", 2), ("FORMATER", 1), ("THEIA", 1)], False),
            ("count_desc", 2, [("AERIS", 4), ("ODATIS", 2)], True),
            ("count_asc", 3, [("FORMATER", 1), ("THEIA", 1), ("ODATIS", 2)], True),  # ties by value
            ("value_asc", 10, [("AERIS", 4), ("FORMATER", 1), ("ODATIS", 2), ("THEIA", 1)], False),
            ("value_desc", 1, [("THEIA", 1)], True),
            ("count_desc", 4, [("AERIS", 4), ("ODATIS", 2), ("FORMATER", 1), ("THEIA", 1)], False),
        ],
    )
    def test_buckets_are_ordered_and_cut_as_asked(
        self, faceted: Store, order: str, size: int, expected: list[tuple[str, int]], more: bool
    ) -> None:
        (pole,) = faceted.search(Query(facets=[FacetRequest("pole", size, order)])).facets
        assert [(b.value, b.count) for b in pole.buckets] == expected
        assert pole.more is more

    @pytest.mark.parametrize(
        "request_",
        [
            FacetRequest("colour"),
            FacetRequest("pole", 0),
            FacetRequest("pole", MAX_BUCKETS + 1),
            FacetRequest("pole", 5, "largest"),
        ],
    )
    def test_a_facet_it_cannot_count_is_a_query_error(self, faceted: Store, request_: FacetRequest) -> None:
        with pytest.raises(QueryError):
            faceted.search(Query(facets=[request_]))

    @pytest.mark.parametrize("criteria", [{}, {"q": [["temperature"], ["aerosol"]]}, {"types": ["dataset"]}])
    def test_a_facet_bucket_as_a_filter_matches_its_count(
        self, faceted: Store, criteria: dict[str, object]
    ) -> None:
        """Each bucket value of every facet a property filters by, given back as that property, refines
        the search to the bucket's count: a portal's click on a bucket."""
        refinable = [name for name in FACETS if name in EQUALITY_PROPERTIES]
        assert {"platform", "instrument", "format", "license", "year"} <= set(refinable)
        result = faceted.search(
            Query(facets=[FacetRequest(n, size=MAX_BUCKETS) for n in refinable], **criteria)
        )
        tried = 0
        for facet in result.facets:
            for bucket in facet.buckets:
                properties = {facet.name: [bucket.value]}
                if facet.name == "type":
                    refined = faceted.search(Query(limit=0, **{**criteria, "types": [bucket.value]}))
                else:
                    refined = faceted.search(Query(properties=properties, limit=0, **criteria))
                assert refined.matched == bucket.count, (facet.name, bucket.value)
                tried += 1
        assert tried > 20

    def test_facet_values_are_ored_within_a_property_and_anded_across(self, faceted: Store) -> None:
        assert found(faceted, properties={"platform": ["Metop-B"]}) == [IASI, SST]
        assert found(faceted, properties={"platform": ["Metop-A", "Sentinel-1A"]}) == [IASI, ETNA]
        assert found(faceted, properties={"platform": ["Metop-B"], "format": ["NetCDF"]}) == [SST]
        assert found(faceted, properties={"license": ["other"], "format": ["HDF5"]}) == [POLDER]
        assert found(faceted, properties={"instrument": ["IASI"], "year": [str(datetime.now(UTC).year)]}) == [
            IASI
        ]
        assert found(faceted, properties={"year": ["2006"]}) == []  # ARGO's extents skip it
        assert found(faceted, properties={"year": ["2005", "2006"]}) == [ARGO]
        assert found(faceted, properties={"year": ["1950"], "pole": ["AERIS"]}) == [ICE]
        assert found(faceted, properties={"year": ["1700"]}) == []  # no bucket before 1800
        assert found(faceted, properties={"format": ["netCDF-4"]}) == []  # bucket values only
        with pytest.raises(QueryError, match="year must be a year"):
            found(faceted, properties={"year": ["2015-01"]})

    def test_a_filter_on_facet_values(self, faceted: Store) -> None:
        assert self.filtered(faceted, "platform = 'Metop-B'") == [IASI, SST]
        assert self.filtered(faceted, "platform IN ('Metop-A', 'Sentinel-1A')") == [IASI, ETNA]
        assert self.filtered(faceted, "format = 'NetCDF' AND license = 'CC-BY-4.0'") == [SST]
        assert self.filtered(faceted, "license IS NOT NULL") == [POLDER, SST]
        assert self.filtered(faceted, "instrument IS NULL AND year = 2012") == [SST]
        assert self.filtered(faceted, "year IN (1950, '2005')") == [ICE, ARGO]
        assert self.filtered(faceted, "platform <> 'Metop-B'") == [ICE, POLDER, WMS, ETNA, ARGO, OSO]
        both = '{"op": "a_contains", "args": [{"property": "platform"}, ["Metop-A", "Metop-B"]]}'
        assert self.filtered(faceted, both, "cql2-json") == [IASI]
        either = '{"op": "a_overlaps", "args": [{"property": "platform"}, ["Metop-A", "Metop-B"]]}'
        assert self.filtered(faceted, either, "cql2-json") == [IASI, SST]

    def test_facets_come_in_the_order_asked(self, faceted: Store) -> None:
        asked = [FacetRequest("year", 2), FacetRequest("pole", 1), FacetRequest("license")]
        assert [f.name for f in faceted.search(Query(facets=asked)).facets] == ["year", "pole", "license"]

    def test_facets_follow_writes(self, faceted: Store) -> None:
        asked = [FacetRequest("theme"), FacetRequest("license"), FacetRequest("format"), FacetRequest("pole")]
        faceted.delete([POLDER])
        faceted.upsert([sst()])  # without its themes, formats, licence
        theme, licence, formats, pole = (counts(f) for f in faceted.search(Query(facets=asked)).facets)
        assert theme == {DATA_TERRA + "ocean": 1}
        assert licence == {} and formats == {}
        assert pole == {"AERIS": 3, "ODATIS": 2, "FORMATER": 1, "THEIA": 1}
        faceted.delete([SST])  # its duplicate becomes the primary, under AERIS
        (pole,) = faceted.search(Query(facets=[FacetRequest("pole")])).facets
        assert counts(pole) == {"AERIS": 4, "ODATIS": 1, "FORMATER": 1, "THEIA": 1}

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

    # --- CQL2 filter and externalIds -----------------------------------------------------------------

    @staticmethod
    def filtered(store: Store, text: str, lang: str | None = None, **criteria: object) -> list[str]:
        """Ids the CQL2 filter ``text`` (cql2-text unless ``lang`` says) selects, with other criteria."""
        return found(store, filter=parse_filter(text, lang), **criteria)

    def test_a_filter_compares_codes(self, loaded: Store) -> None:
        aeris, others = [ICE, IASI, WMS], [ETNA, ARGO, SST, OSO]
        assert self.filtered(loaded, "pole = 'AERIS'") == aeris
        assert self.filtered(loaded, "pole <> 'AERIS'") == others
        assert self.filtered(loaded, "pole < 'FORMATER'") == aeris
        assert self.filtered(loaded, "pole <= 'FORMATER'") == [*aeris, ETNA]
        assert self.filtered(loaded, "pole > 'ODATIS'") == [OSO]
        assert self.filtered(loaded, "pole >= 'ODATIS'") == [ARGO, SST, OSO]
        assert self.filtered(loaded, "'ODATIS' <= pole") == [ARGO, SST, OSO]
        assert self.filtered(loaded, "pole IN ('THEIA', 'FORMATER')") == [ETNA, OSO]
        assert self.filtered(loaded, "pole NOT IN ('THEIA', 'FORMATER')") == [*aeris, ARGO, SST]
        assert self.filtered(loaded, "pole BETWEEN 'B' AND 'P'") == [ETNA, ARGO, SST]
        assert self.filtered(loaded, "pole NOT BETWEEN 'B' AND 'P'") == [*aeris, OSO]
        assert self.filtered(loaded, "pole LIKE 'ae%'") == aeris
        assert self.filtered(loaded, "pole LIKE 'O_ATIS'") == [ARGO, SST]
        assert self.filtered(loaded, "pole NOT LIKE 'A%'") == others
        assert self.filtered(loaded, "CASEI(pole) = CASEI('aeris')") == aeris
        assert self.filtered(loaded, "type = 'series'") == [IASI]
        either = f"source = 'theia-oso' OR id = '{ETNA}'"
        assert self.filtered(loaded, either) == [ETNA, OSO]
        assert self.filtered(loaded, "id LIKE 'odatis%'") == [ARGO, SST]
        assert self.filtered(loaded, "language IS NULL") == [WMS]
        assert self.filtered(loaded, "updated IS NULL") == [WMS, ARGO]
        assert self.filtered(loaded, "updated IS NOT NULL AND language = 'fr'") == [ICE, ETNA, SST, OSO]

    def test_a_filter_combines_with_and_or_not_as_cql2_does(self, loaded: Store) -> None:
        assert self.filtered(loaded, "pole = 'AERIS' AND NOT (type = 'series')") == [ICE, WMS]
        grouped = "(pole = 'THEIA' OR pole = 'FORMATER') AND language = 'fr'"
        assert self.filtered(loaded, grouped) == [ETNA, OSO]
        either = [{"op": "=", "args": [{"property": "pole"}, pole]} for pole in ("AERIS", "ODATIS")]
        neither = json.dumps({"op": "not", "args": [{"op": "or", "args": either}]})
        assert self.filtered(loaded, neither, "cql2-json") == [ETNA, OSO]
        # A test of a missing value is unknown, and so is its negation: neither selects the record.
        assert self.filtered(loaded, "language = 'fr'") == [ICE, ETNA, SST, OSO]
        assert self.filtered(loaded, "NOT (language = 'fr')") == [IASI, ARGO]
        french = {"op": "=", "args": [{"property": "language"}, "fr"]}
        twice = json.dumps({"op": "not", "args": [{"op": "not", "args": [french]}]})
        assert self.filtered(loaded, twice, "cql2-json") == [ICE, ETNA, SST, OSO]
        assert self.filtered(loaded, "INCLUDE") == ALL
        assert self.filtered(loaded, "EXCLUDE") == []

    def test_a_filter_on_text_ignores_case_and_accents(self, loaded: Store) -> None:
        assert self.filtered(loaded, "title LIKE '%TEMPERATURE%'") == [SST]
        assert self.filtered(loaded, "title = 'ARGO FLOAT PROFILES - PACIFIC OCEAN'") == [ARGO]
        assert self.filtered(loaded, "ACCENTI(CASEI(title)) LIKE '%DÉFORMATION%'") == [ETNA]
        assert self.filtered(loaded, "title LIKE 'carte d_occupation%'") == [OSO]  # _: one character
        assert self.filtered(loaded, "title LIKE 'argo float profiles . pacific%'") == []  # . is no wildcard
        assert self.filtered(loaded, "title LIKE '%2021'") == [OSO]
        assert self.filtered(loaded, "title > 'c' AND title < 'd'") == [ICE, OSO]
        assert self.filtered(loaded, "description LIKE '%sentinel%'") == [ETNA, OSO]
        assert self.filtered(loaded, "description LIKE '%bay of biscay%'") == [SST]  # a translation

    def test_a_filter_on_keywords_tests_each_keyword(self, loaded: Store) -> None:
        assert self.filtered(loaded, "keywords = 'OCEAN'") == [SST]
        assert self.filtered(loaded, "keywords = 'oc'") == []  # a whole keyword, not a part
        assert self.filtered(loaded, "keywords = 'volcanology'") == [ETNA]  # a translation
        assert self.filtered(loaded, "keywords LIKE 'temp%'") == [SST]
        assert self.filtered(loaded, "keywords IN ('volcanologie', 'Occupation des sols')") == [ETNA, OSO]
        assert self.filtered(loaded, "keywords <> 'océan'") == [ICE, IASI, WMS, ETNA, ARGO, OSO]
        assert self.filtered(loaded, "keywords IS NULL") == [ICE, WMS, ARGO]
        contains = json.dumps(
            {"op": "a_contains", "args": [{"property": "keywords"}, ["océan", "TEMPÉRATURE DE LA MER"]]}
        )
        assert self.filtered(loaded, contains, "cql2-json") == [SST]
        neither = '{"op": "a_contains", "args": [{"property": "keywords"}, ["océan", "volcanologie"]]}'
        assert self.filtered(loaded, neither, "cql2-json") == []
        overlaps = '{"op": "a_overlaps", "args": [{"property": "keywords"}, ["océan", "volcanologie"]]}'
        assert self.filtered(loaded, overlaps, "cql2-json") == [ETNA, SST]

    def test_a_filter_on_theme_is_hierarchical(self, loaded: Store) -> None:
        loaded.upsert([polder(), themed_sst()])
        assert self.filtered(loaded, f"theme = '{EARTH_SCIENCE}'") == [POLDER, SST]
        assert self.filtered(loaded, f"theme = '{AEROSOLS}'") == [POLDER]
        assert self.filtered(loaded, f"theme IN ('{AEROSOLS}', '{OCEANS}')") == [POLDER, SST]
        assert self.filtered(loaded, f"theme <> '{AEROSOLS}'") == ALL
        assert self.filtered(loaded, f"theme LIKE '{DATA_TERRA}%'") == [POLDER, SST]
        assert self.filtered(loaded, "theme IS NOT NULL") == [POLDER, ETNA, SST]
        both = f'{{"op": "a_contains", "args": [{{"property": "theme"}}, ["{EARTH_SCIENCE}", "{OCEANS}"]]}}'
        assert self.filtered(loaded, both, "cql2-json") == [SST]

    def test_a_filter_on_dates_compares_the_periods_they_name(self, loaded: Store) -> None:
        assert self.filtered(loaded, "created = '2008'") == [IASI]  # created "2008": within the year
        assert self.filtered(loaded, "created = DATE('2010-03-15')") == [SST]
        assert self.filtered(loaded, "created > '2015'") == [OSO]  # after the end of 2015
        assert self.filtered(loaded, "created >= '2015'") == [ETNA, OSO]
        assert self.filtered(loaded, "created < '2001-01-02'") == [ARGO]
        assert self.filtered(loaded, "created <= '2001'") == [ARGO]
        assert self.filtered(loaded, "created BETWEEN '2008' AND '2010'") == [IASI, SST]
        assert self.filtered(loaded, "created IN ('2008', '2022-01-10')") == [IASI, OSO]
        # In UTC: ICE's date stamp is 10:00 at UTC+2.
        assert self.filtered(loaded, "updated = TIMESTAMP('2019-03-01T08:00:00Z')") == [ICE]
        assert self.filtered(loaded, "T_BEFORE(updated, DATE('2020-01-01'))") == [ICE]
        assert self.filtered(loaded, "T_AFTER(updated, DATE('2023-12-31'))") == [IASI]

    def test_a_filter_on_time_tests_the_temporal_extents(self, loaded: Store) -> None:
        assert self.filtered(loaded, "T_INTERSECTS(time, INTERVAL('2003-01-01', '2003-12-31'))") == [ARGO]
        assert self.filtered(loaded, "T_INTERSECTS(time, INTERVAL('2006-01-01', '2006-12-31'))") == []  # gap
        assert self.filtered(loaded, "T_INTERSECTS(datetime, DATE('2008-06-01'))") == [IASI]
        assert self.filtered(loaded, "T_INTERSECTS(time, INTERVAL('..', '1900-01-01'))") == [ICE]
        assert self.filtered(loaded, "T_BEFORE(time, TIMESTAMP('2000-01-01T00:00:00Z'))") == [ICE]
        assert self.filtered(loaded, "T_AFTER(time, DATE('2014-12-31'))") == [ETNA]
        during = "T_DURING(time, INTERVAL('2000-01-01', '..'))"
        assert self.filtered(loaded, during) == [IASI, ETNA, ARGO, SST]
        contains = "T_CONTAINS(time, INTERVAL('2016-01-01', '2016-06-30'))"
        assert self.filtered(loaded, contains) == [IASI, ETNA, ARGO, SST]
        disjoint = "T_DISJOINT(time, INTERVAL('2006-01-01', '2006-12-31'))"
        assert self.filtered(loaded, disjoint) == [ICE, IASI, ETNA, ARGO, SST]  # not those without time
        assert self.filtered(loaded, "time IS NULL") == [WMS, OSO]
        since = {"interval": ["2003-01-01", ".."]}
        interval = json.dumps({"op": "t_intersects", "args": [{"property": "time"}, since]})
        assert self.filtered(loaded, interval, "cql2-json") == [IASI, ETNA, ARGO, SST]

    def test_a_filter_on_geometry_uses_the_boxes(self, loaded: Store) -> None:
        assert self.filtered(loaded, "S_INTERSECTS(geometry, BBOX(-5, 40, 0, 45))") == [IASI, SST, OSO]
        assert self.filtered(loaded, "S_INTERSECTS(geometry, BBOX(175, -5, -175, 5))") == [IASI, ARGO]
        assert self.filtered(loaded, "S_INTERSECTS(geometry, POINT(15 37.7))") == [IASI, ETNA]
        polygon = "S_INTERSECTS(geometry, POLYGON((14 37, 16 37, 16 38, 14 37)))"  # its envelope
        assert self.filtered(loaded, polygon) == [IASI, ETNA]
        assert self.filtered(loaded, "BBOX(geometry, 145, 25, 146, 26)") == [IASI, ARGO]  # Argo's 2nd box
        assert self.filtered(loaded, "S_DISJOINT(geometry, BBOX(-180, -90, 0, 90))") == [ETNA]
        assert self.filtered(loaded, "geometry IS NULL") == [WMS]
        box = '{"op": "s_intersects", "args": [{"property": "geometry"}, {"bbox": [14, 37, 16, 38]}]}'
        assert self.filtered(loaded, box, "cql2-json") == [IASI, ETNA]

    def test_a_filter_is_anded_with_the_other_criteria(self, loaded: Store) -> None:
        assert self.filtered(loaded, "language = 'fr'", q=[["sentinel"]]) == [ETNA, OSO]
        assert self.filtered(loaded, "pole <> 'THEIA'", q=[["sentinel"]]) == [ETNA]
        assert self.filtered(loaded, "pole = 'AERIS'", bbox=(-10.0, 40.0, 0.0, 45.0)) == [IASI]
        assert self.filtered(loaded, "pole = 'ODATIS'", time=("2003-01-01T00:00:00Z", None)) == [ARGO, SST]
        assert self.filtered(loaded, "language = 'en'", properties={"pole": ["AERIS"]}) == [IASI]
        assert self.filtered(loaded, "pole = 'AERIS'", types=["service"]) == [WMS]
        assert self.filtered(loaded, "pole = 'AERIS'", sortby=[Sort("title", False)]) == [WMS, IASI, ICE]
        page = loaded.search(Query(filter=parse_filter("pole = 'AERIS'"), limit=2, offset=1))
        assert ([r.id for r in page.records], page.matched) == ([IASI, WMS], 3)

    def test_a_filter_finds_the_primary_of_duplicates_only(self, loaded: Store) -> None:
        loaded.upsert([republished(sst(), SST_AERIS)])
        assert self.filtered(loaded, "title LIKE '%gascogne%'") == [SST]
        assert self.filtered(loaded, "source = 'aeris-catalogue' AND title LIKE '%gascogne%'") == []

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            ("title = 5", "title takes text"),
            ("time = '2020'", "time cannot be compared with ="),
            ("geometry = 'x'", "geometry cannot be compared"),
            ("S_CONTAINS(geometry, POINT(1 2))", "S_CONTAINS is not supported"),
            ("S_INTERSECTS(geometry, BBOX(0, 50, 10, 40))", "south"),
            ("S_INTERSECTS(geometry, BBOX(0, 40, 200, 50))", "within [-180, 180]"),
            ("T_MEETS(time, DATE('2020-01-01'))", "T_MEETS is not supported"),
            ("T_BEFORE(pole, DATE('2020-01-01'))", "applies to time"),
            ("created > 'soon'", "not a date"),
            ("created > 5", "takes a date"),
            ("pole = title", "not with another property"),
            ("pole LIKE title", "must be text"),
            ("upper(pole) = 'AERIS'", "function upper() is not supported"),
            ("keywords > 'a'", "keywords cannot be compared with >"),
            ("T_BEFORE(time, DATE('2020-01-01')) AND fair = 1", "unknown property 'fair'"),
            ("colour = 'red'", "unknown property 'colour'"),
            ("platform > 'Metop'", "platform cannot be compared with >"),
            ("year = 'recent'", "year must be a year"),
            ('{"op": "a_overlaps", "args": [{"property": "license"}, ["other"]]}', "not license"),
        ],
    )
    def test_a_filter_the_store_cannot_evaluate_is_a_query_error(
        self, loaded: Store, text: str, message: str
    ) -> None:
        with pytest.raises(QueryError, match=re.escape(message)):
            self.filtered(loaded, text, "cql2-json" if text.startswith("{") else None)

    def test_a_filter_too_deep_to_evaluate_is_a_query_error(self, loaded: Store) -> None:
        assert self.filtered(loaded, " OR ".join(["pole = 'THEIA'"] * 50)) == [OSO]
        with pytest.raises(QueryError, match="nested too deeply"):  # 1000 levels: no backend takes that
            self.filtered(loaded, " OR ".join(["pole = 'THEIA'"] * 1000))

    def test_a_filter_value_is_never_sql(self, loaded: Store) -> None:
        assert self.filtered(loaded, "pole = 'x\" OR 1=1 --'") == []
        assert self.filtered(loaded, "title LIKE '%; DROP TABLE records; --%'") == []
        assert self.filtered(loaded, "pole IN ('), (SELECT 1) --')") == []
        assert self.filtered(loaded, "keywords = ')|(.*'") == []  # nor a regular expression
        assert loaded.count() == 7

    def test_external_ids_find_records_by_identifier_however_written(self, loaded: Store) -> None:
        for written in [
            "10.12770/sst-gascogne",
            "10.12770/SST-GASCOGNE",
            "doi:10.12770/sst-gascogne",
            "https://doi.org/10.12770/sst-gascogne",
            "https://doi.org:10.12770/sst-gascogne",
            "DOI:10.12770/sst-gascogne",
            "nothing,10.12770/sst-gascogne",
        ]:
            assert found(loaded, external_ids=parse_external_ids(written)) == [SST], written
        assert found(loaded, external_ids=parse_external_ids("10.12770/sst")) == []
        assert found(loaded, external_ids=parse_external_ids("https://doi.org:")) == [SST]  # a scheme alone
        assert found(loaded, external_ids=parse_external_ids("urn:x:10.12770/sst-gascogne")) == []

    def test_external_ids_match_schemes_and_local_codes(self, store: Store) -> None:
        coded = msgspec.structs.replace(
            oso(),
            identifiers=[
                Identifier(code="oso-2021", scheme="theia"),
                Identifier(code="urn:uuid:6c1c5f4e-0d5e-4b7e-9a1f-0c6f3b7d2a11"),
            ],
        )
        store.upsert([coded, etna()])
        assert found(store, external_ids=parse_external_ids("theia:oso-2021")) == [OSO]
        assert found(store, external_ids=parse_external_ids("oso-2021")) == [OSO]
        assert found(store, external_ids=parse_external_ids("other:oso-2021")) == []
        assert found(store, external_ids=parse_external_ids("theia:")) == [OSO]
        uuid = "urn:uuid:6c1c5f4e-0d5e-4b7e-9a1f-0c6f3b7d2a11"
        assert found(store, external_ids=parse_external_ids(uuid)) == [OSO]
        assert found(store, external_ids=parse_external_ids(uuid.upper())) == []  # values are exact
        # Its source and native id are no identifier a record shows of itself.
        assert found(store, external_ids=parse_external_ids("theia-oso:oso-2021")) == []

    def test_external_ids_of_a_duplicate_find_its_primary(self, loaded: Store) -> None:
        copy = republished(sst(), SST_AERIS, identifiers=[*sst().identifiers, Identifier(code="aeris-42")])
        loaded.upsert([copy])
        for written in ["aeris-42", "aeris-catalogue:sst-gascogne", "10.12770/sst-gascogne"]:
            assert found(loaded, external_ids=parse_external_ids(written)) == [SST], written
        # A client naming the records gets the copy too, by what it shows itself.
        assert found(loaded, ids=[SST_AERIS], external_ids=parse_external_ids("aeris-42")) == [SST_AERIS]
        loaded.delete([SST_AERIS])
        assert found(loaded, external_ids=parse_external_ids("aeris-42")) == []
        loaded.upsert([copy])
        loaded.delete([SST])  # the copy is primary now, and shows its own identifiers
        assert found(loaded, external_ids=parse_external_ids("aeris-42")) == [SST_AERIS]

    def test_external_ids_follow_updates_and_combine_with_a_filter(self, loaded: Store) -> None:
        recoded = msgspec.structs.replace(sst(), identifiers=[Identifier(code="sextant-7", scheme="ifremer")])
        loaded.upsert([recoded])
        assert found(loaded, external_ids=parse_external_ids("10.12770/sst-gascogne")) == []
        assert found(loaded, external_ids=parse_external_ids("ifremer:sextant-7")) == [SST]
        both = parse_external_ids("ifremer:sextant-7")
        odatis = parse_filter("pole = 'ODATIS'")
        assert found(loaded, external_ids=both, filter=odatis, q=[["gascogne"]]) == [SST]
        assert found(loaded, external_ids=both, filter=parse_filter("pole = 'AERIS'")) == []
        loaded.rebuild(loaded.scan())
        assert found(loaded, external_ids=both) == [SST]

    # --- extent (catalogue descriptions) -----------------------------------------------------------

    def test_extent_encloses_the_boxes_and_times_of_the_matches(self, store: Store) -> None:
        records = many_records(12)  # even: Bay of Biscay; odd: across the antimeridian; some open ends
        store.upsert(records)
        whole = store.extent(Query())
        assert whole.bbox == pytest.approx((-180.0, -10.0, 180.0, 46.0), abs=1e-4)
        assert whole.time == ("2000-01-01T00:00:00Z", None)  # lot 0 has no end
        some = store.extent(Query(ids=[records[2].id, records[4].id]))
        assert some.bbox == pytest.approx((-5.0, 44.0, -2.0, 46.0), abs=1e-4)
        assert some.time == ("2002-01-01T00:00:00Z", "2012-12-31T23:59:59Z")
        nothing = store.extent(Query(properties={"pole": ["THEIA"]}))
        assert (nothing.bbox, nothing.time) == (None, None)


def faceted_sst() -> Record:
    """SST under a Data Terra theme, with a licence, two spellings of one format and a platform."""
    return msgspec.structs.replace(
        themed_sst(),
        constraints=Constraints(
            licence="Creative Commons Attribution 4.0",
            licence_url="https://creativecommons.org/licenses/by/4.0/",
        ),
        formats=[Format(name="NetCDF"), Format(name="netCDF-4")],
        platforms=["Metop-B"],
    )


def faceted_polder() -> Record:
    """POLDER under the atmosphere compartment itself, with a licence no SPDX id names (``other``)."""
    return msgspec.structs.replace(
        polder(),
        constraints=Constraints(licence="Conditions AERIS", licence_url="https://www.aeris-data.fr/cgu"),
        formats=[Format(name="HDF5")],
    )


def faceted_argo() -> Record:
    """ARGO placed under the ocean compartment by its pole: the compartment's labels, which SST carries
    only as an ancestor."""
    ocean = Concept(
        uri=DATA_TERRA + "ocean",
        scheme=DATA_TERRA,
        labels={"fr": "Océan", "en": "Ocean"},
        via=["pole:ODATIS"],
    )
    return msgspec.structs.replace(argo(), concepts=[ocean])


def counts(facet: Facet) -> dict[str, int]:
    """A facet's buckets as value -> count, in its order."""
    return {b.value: b.count for b in facet.buckets}


def tally(values: Iterator[str | None]) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        if value is not None:
            out[value] = out.get(value, 0) + 1
    return out


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
