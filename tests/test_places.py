"""Gazetteer and geocoding from packaged data: countries, divisions, cities ranked by population and context."""

from __future__ import annotations

import os

from transforms.places import ADMIN1, CITY, COUNTRY, Context, candidates, geocode, place_fold


def test_capitals_resolve_to_their_country():
    moscow, damascus = geocode("Moscow"), geocode("Damascus")
    assert (moscow.kind, moscow.country_code, moscow.geonames_id) == (CITY, "RU", 524901)
    assert (damascus.kind, damascus.country_code, damascus.geonames_id) == (CITY, "SY", 170654)
    assert abs(moscow.latitude - 55.75) < 0.1 and abs(moscow.longitude - 37.62) < 0.1


def test_paris_france_or_texas_by_the_document_context():
    assert geocode("Paris").country_code == "FR"  # the most populous Paris
    assert geocode("Paris", qualifier="Texas").admin1_code == "TX"  # "Paris, Texas"
    texas_story = Context(countries={"US"}, admin1={("US", "TX")})  # the story names Texas
    assert (geocode("Paris", texas_story).country_code, geocode("Paris", texas_story).admin1_code) == ("US", "TX")
    # naming only the US is not enough: Paris, Texas has 1/86 of the French capital's people (< 1/20)
    assert geocode("Paris", Context(countries={"US"})).country_code == "FR"


def test_a_small_namesake_wins_only_within_a_twentieth_of_the_population():
    us_story = Context(countries={"US"})
    assert geocode("Damascus", us_story).country_code == "SY"  # Damascus, Maryland: 1/100
    london = [c for c in candidates("London") if c.kind == CITY]
    assert [c.country_code for c in london[:2]] == ["GB", "CA"]
    assert geocode("London", Context(countries={"CA"})).country_code == "GB"  # London, Ontario: 1/21


def test_countries_divisions_and_case_variants():
    assert candidates("ALBANIA")[0] == candidates("Albania")[0]
    assert (candidates("Albania")[0].kind, candidates("Albania")[0].country_code) == (COUNTRY, "AL")
    assert candidates("Britain")[0].country_code == "GB"  # an exonym from aliases.csv
    texas = geocode("Texas")
    assert (texas.kind, texas.country_code, texas.admin1_code, texas.geonames_id) == (ADMIN1, "US", "TX", 4736286)
    assert geocode("Kiev").name == "Kyiv"  # an alternate name of a large city
    assert place_fold("  the São Paulo ") == "sao paulo"


def test_pycountry_divisions_only_where_the_document_names_their_country():
    assert geocode("Gulf") is None  # Papua New Guinea's Gulf province, in a story not about it
    assert geocode("Gulf", Context(countries={"PG"})).country_code == "PG"
    assert geocode("Essex").country_code == "GB"  # UK divisions always count


def test_a_parsed_city_keeps_only_what_the_index_reads():
    """cities15000.json is parsed city by city into the fields `_cities` reads (memory: transforms.places)."""
    from transforms.places import ALT_NAME_MIN_POPULATION, _city_fields

    city = {"geonameid": 1, "name": "Aville", "asciiname": "Aville", "countrycode": "XX", "admin1code": "01",
            "latitude": 1.5, "longitude": -2.5, "population": ALT_NAME_MIN_POPULATION - 1, "timezone": "UTC",
            "alternatenames": ["Ayville", "Авиль"]}  # fmt: skip
    kept = {"geonameid": 1, "name": "Aville", "countrycode": "XX", "admin1code": "01", "latitude": 1.5,
            "longitude": -2.5, "population": ALT_NAME_MIN_POPULATION - 1}  # fmt: skip
    assert _city_fields(city) == {**kept, "alternatenames": []}  # a small city's alternate names are not indexed
    big = {**city, "population": ALT_NAME_MIN_POPULATION}
    assert _city_fields(big) == {**kept, "population": ALT_NAME_MIN_POPULATION, "alternatenames": ["Ayville"]}
    assert _city_fields({**big, "alternatenames": None})["alternatenames"] == []
    top = {"1": {"name": "x"}}  # the file's top-level object (id -> city) is left as it is
    assert _city_fields(top) is top


def test_alternate_names_of_big_cities_resolve():
    (top, *_) = candidates("Bombay")
    assert (top.name, top.kind, top.country_code) == ("Mumbai", CITY, "IN")


def test_a_city_named_by_the_whole_name_beats_a_namesake_of_its_part_in_the_same_country():
    """GeoNames lists "New Delhi" among Delhi's alternate names; New Delhi has its own entry. Across countries the
    bigger city keeps an alternate name: "Al Madinah" is Medina (1.3 M), not the Iraqi town named so."""
    assert (geocode("New Delhi").name, geocode("New Delhi").geonames_id) == ("New Delhi", 1261481)
    assert geocode("Delhi").geonames_id == 1273294
    assert (geocode("Al Madinah").name, geocode("Al Madinah").country_code) == ("Madinah", "SA")
    assert geocode("New York").name == "New York City"  # an alternate name, and no city of its own under it


def test_the_index_is_built_once_then_loaded_from_the_cache(tmp_path, monkeypatch):
    import transforms.places as places

    monkeypatch.setenv("NEWSETL_CACHE_DIR", str(tmp_path / "cache"))
    built = places.index.__wrapped__()  # no cache yet: built and written
    (written,) = (tmp_path / "cache").iterdir()
    assert written == places.cache_path() and written.name.startswith("places-")

    def no_build():
        raise AssertionError("built again")

    monkeypatch.setattr(places, "build_index", no_build)
    loaded = places.index.__wrapped__()
    assert loaded == built and loaded["paris"][0].country_code == "FR"
    # one object per place under all its names, as built (geocode's qualifier test compares identities)
    assert loaded["bombay"][0] is loaded["mumbai"][0] and built["bombay"][0] is built["mumbai"][0]


def test_an_unreadable_cache_is_rebuilt_and_a_read_only_folder_only_costs_the_build(tmp_path, monkeypatch):
    import pickle

    import transforms.places as places

    monkeypatch.setenv("NEWSETL_CACHE_DIR", str(tmp_path / "cache"))
    path = places.cache_path()
    path.parent.mkdir()
    path.write_bytes(b"not a pickle")
    fresh = places.index.__wrapped__()
    assert fresh == places.build_index() and pickle.loads(path.read_bytes()) == fresh  # rebuilt and rewritten
    monkeypatch.setenv("NEWSETL_CACHE_DIR", "/proc/newsetl-cannot-write-here")
    assert places.index.__wrapped__() == fresh


def test_the_cache_key_changes_with_the_data_the_index_is_built_from(tmp_path, monkeypatch):
    import transforms.names as names
    import transforms.places as places

    monkeypatch.setenv("NEWSETL_CACHE_DIR", str(tmp_path))
    before = places.cache_path()
    aliases = tmp_path / "aliases.csv"
    aliases.write_text(names.ALIASES_PATH.read_text(encoding="utf-8") + "Gotham,New York City,GPE,US,\n")
    monkeypatch.setattr(names, "ALIASES_PATH", aliases)
    assert places.cache_path() != before


def test_a_new_index_leaves_only_the_newest_three_in_the_cache(tmp_path, monkeypatch):
    """Each change of the code or data the index is built from writes a new pickle; older ones are removed as a new
    one is written, all but the newest CACHE_KEEP (other checkouts may share the folder). Other files stay."""
    import transforms.places as places

    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("NEWSETL_CACHE_DIR", str(cache))
    for age, name in enumerate(["places-old1.pickle", "places-old2.pickle", "places-old3.pickle", "notes.txt"]):
        f = cache / name
        f.write_bytes(b"x")
        os.utime(f, (1_000_000 + age, 1_000_000 + age))  # old1 oldest
    places.index.__wrapped__()  # no index of this code yet: built, written, the cache pruned
    assert places.CACHE_KEEP == 3
    assert sorted(p.name for p in cache.iterdir()) == sorted(
        [places.cache_path().name, "places-old2.pickle", "places-old3.pickle", "notes.txt"]
    )
