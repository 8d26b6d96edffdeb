-- stg_entities: one row per entity (source: entities, which holds one row per entity per run that
-- mentioned it). Runs are merged here: aliases unioned, mention counts summed, the first run's name kept.
CREATE OR REPLACE VIEW stg_entities AS
SELECT
    entity_id,
    arg_min(name, run_id) AS name,
    arg_min("type", run_id) AS entity_type,
    arg_min(entity_key, run_id) AS entity_key,
    arg_min(country_code, run_id) FILTER (WHERE country_code IS NOT NULL) AS country_code,
    arg_min(admin1_code, run_id) FILTER (WHERE admin1_code IS NOT NULL) AS admin1_code,
    arg_min(latitude, run_id) FILTER (WHERE latitude IS NOT NULL) AS latitude,
    arg_min(longitude, run_id) FILTER (WHERE longitude IS NOT NULL) AS longitude,
    arg_min(geonames_id, run_id) FILTER (WHERE geonames_id IS NOT NULL) AS geonames_id,
    list_sort(list_distinct(flatten(list(coalesce(aliases, []::VARCHAR[]))))) AS aliases,
    CAST(sum(coalesce(mention_count, 0)) AS BIGINT) AS mention_count,
    min(run_id) AS first_run_id,
    max(run_id) AS last_run_id,
    count(DISTINCT run_id) AS n_runs
FROM entities
GROUP BY entity_id;
COMMENT ON VIEW stg_entities IS 'One row per resolved entity, merged over every run that mentioned it.';
COMMENT ON COLUMN stg_entities.entity_id IS 'E + 16 hex of sha1(entity_key), or the id an earlier run gave that key: stable across runs.';
COMMENT ON COLUMN stg_entities.entity_key IS 'Resolved type-free key: country:RU, geo:<GeoNames id>, person:<name tokens>, name:<folded name>...';
COMMENT ON COLUMN stg_entities.name IS 'Canonical display name (as first resolved).';
COMMENT ON COLUMN stg_entities.entity_type IS 'PERSON, ORG, GPE, LOC, NORP, EVENT...: by the kind of key, then the majority of mention labels.';
COMMENT ON COLUMN stg_entities.country_code IS 'ISO 3166-1 alpha-2 code: the country, the country of a geocoded place, or of a curated party or national team.';
COMMENT ON COLUMN stg_entities.admin1_code IS 'Division of a geocoded place: GeoNames admin1 code for cities and US states (US: the state code), the ISO 3166-2 suffix for other divisions (GB-ESS: ESS); else null.';
COMMENT ON COLUMN stg_entities.latitude IS 'Latitude (WGS84) of a geocoded city, else null (countries and divisions have none here).';
COMMENT ON COLUMN stg_entities.longitude IS 'Longitude (WGS84) of a geocoded city, else null.';
COMMENT ON COLUMN stg_entities.geonames_id IS 'GeoNames id of a geocoded country, US state or city, else null.';
COMMENT ON COLUMN stg_entities.aliases IS 'Every surface form seen for the entity, over all runs, sorted.';
COMMENT ON COLUMN stg_entities.mention_count IS 'Mentions reported by the extract stage, summed over runs.';
COMMENT ON COLUMN stg_entities.first_run_id IS 'First run that mentioned the entity.';
COMMENT ON COLUMN stg_entities.last_run_id IS 'Latest run that mentioned the entity.';
COMMENT ON COLUMN stg_entities.n_runs IS 'Runs that mentioned the entity.';
