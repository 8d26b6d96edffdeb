-- mart_entities
-- Grain: one row per resolved entity (stg_entities merges the per-run rows).
-- One count per duplicate cluster: n_mentions and n_documents count the mentions in each cluster's canonical
-- document only (stg_mentions keeps canonical documents), so a story republished or updated ten times counts
-- once. The other members of a cluster are not extracted (extractions.reason = 'near_duplicate'); runs before
-- 2026-12-04 extracted them too, and their rows stay in the mentions, quotes, figures and dates tables (and in
-- stg_entities.mention_count, which counts every extracted document): an entity named only by such a member has
-- a row here with n_mentions = 0.
-- Incremental (warehouse/incremental.py): a run rebuilds the rows of the entities it wrote (an entity seen again
-- is merged across runs by stg_entities: aliases, counts), of the entities it mentioned, and of every entity
-- mentioned in a document whose mart_documents row it rebuilds; --full-refresh rebuilds every row. The counts are
-- merged, not recounted: a run's mentions are on documents it added (checked), so its counts add to the published
-- ones, and first/last seen and published take the least/greatest; name, type, aliases come from stg_entities.
-- config: materialized=incremental, unique_key=entity_id
/*delta:
SELECT entity_id FROM _new_entities
UNION SELECT entity_id FROM _new_mentions WHERE entity_id IS NOT NULL
UNION SELECT entity_id FROM stg_mentions
 WHERE entity_id IS NOT NULL AND doc_id IN (SELECT doc_id FROM _delta_mart_documents)
*/
/*incremental_query:
WITH run_mentions AS (
    SELECT m.entity_id, m.doc_id, d.published_at, d.first_seen
    FROM _new_mentions AS m
    JOIN _new_documents AS d ON d.doc_id = m.doc_id
    WHERE m.doc_id IN (SELECT canonical_doc_id FROM dup_clusters)
),
by_entity AS (
    SELECT
        entity_id,
        count(*) AS n_mentions,
        count(DISTINCT doc_id) AS n_documents,
        min(published_at) AS first_published_at,
        max(published_at) AS last_published_at,
        min(first_seen) AS first_seen,
        max(first_seen) AS last_seen
    FROM run_mentions
    GROUP BY entity_id
)
SELECT
    e.entity_id,
    e.name,
    e.entity_type,
    e.entity_key,
    e.country_code,
    e.admin1_code,
    e.latitude,
    e.longitude,
    e.geonames_id,
    e.aliases,
    coalesce(p.n_mentions, 0) + coalesce(b.n_mentions, 0) AS n_mentions,
    coalesce(p.n_documents, 0) + coalesce(b.n_documents, 0) AS n_documents,
    least(p.first_seen, b.first_seen) AS first_seen,
    greatest(p.last_seen, b.last_seen) AS last_seen,
    least(p.first_published_at, b.first_published_at) AS first_published_at,
    greatest(p.last_published_at, b.last_published_at) AS last_published_at
FROM stg_entities AS e
LEFT JOIN _prior_mart_entities AS p ON p.entity_id = e.entity_id
LEFT JOIN by_entity AS b ON b.entity_id = e.entity_id
WHERE e.entity_id IN (SELECT entity_id FROM _delta_mart_entities)
*/
CREATE OR REPLACE TABLE mart_entities AS
WITH by_entity AS (
    SELECT
        m.entity_id,
        count(*) AS n_mentions,
        count(DISTINCT m.doc_id) AS n_documents,
        min(d.published_at) AS first_published_at,
        max(d.published_at) AS last_published_at,
        min(d.first_seen) AS first_seen,
        max(d.first_seen) AS last_seen
    FROM stg_mentions AS m
    JOIN stg_documents AS d ON d.doc_id = m.doc_id
    GROUP BY m.entity_id
)
SELECT
    e.entity_id,
    e.name,
    e.entity_type,
    e.entity_key,
    e.country_code,
    e.admin1_code,
    e.latitude,
    e.longitude,
    e.geonames_id,
    e.aliases,
    coalesce(b.n_mentions, 0) AS n_mentions,
    coalesce(b.n_documents, 0) AS n_documents,
    b.first_seen,
    b.last_seen,
    b.first_published_at,
    b.last_published_at
FROM stg_entities AS e
LEFT JOIN by_entity AS b ON b.entity_id = e.entity_id
ORDER BY n_mentions DESC, e.entity_id;
COMMENT ON TABLE mart_entities IS 'One row per resolved entity: mentions, documents, first and last seen.';
COMMENT ON COLUMN mart_entities.entity_id IS 'Entity identifier, deterministic across runs.';
COMMENT ON COLUMN mart_entities.name IS 'Canonical display name.';
COMMENT ON COLUMN mart_entities.entity_type IS 'PERSON, ORG, GPE, LOC, NORP, EVENT...';
COMMENT ON COLUMN mart_entities.entity_key IS 'Resolved type-free key the id was made from: country:RU, geo:<GeoNames id>, person:..., name:...';
COMMENT ON COLUMN mart_entities.country_code IS 'ISO 3166-1 alpha-2 code: the country, the country of a geocoded place, or of a curated party or team.';
COMMENT ON COLUMN mart_entities.admin1_code IS 'Division of a geocoded place: GeoNames admin1 code for cities and US states (US: state code), ISO 3166-2 suffix for other divisions.';
COMMENT ON COLUMN mart_entities.latitude IS 'Latitude (WGS84) of a geocoded city.';
COMMENT ON COLUMN mart_entities.longitude IS 'Longitude (WGS84) of a geocoded city.';
COMMENT ON COLUMN mart_entities.geonames_id IS 'GeoNames id of a geocoded country, US state or city.';
COMMENT ON COLUMN mart_entities.aliases IS 'Every surface form seen for the entity, sorted.';
COMMENT ON COLUMN mart_entities.n_mentions IS 'Mentions in canonical documents: one count per duplicate cluster.';
COMMENT ON COLUMN mart_entities.n_documents IS 'Duplicate clusters (by their canonical documents) mentioning the entity.';
COMMENT ON COLUMN mart_entities.first_seen IS 'Earliest first_seen (UTC ingestion time) of a document mentioning the entity.';
COMMENT ON COLUMN mart_entities.last_seen IS 'Latest first_seen (UTC ingestion time) of a document mentioning the entity.';
COMMENT ON COLUMN mart_entities.first_published_at IS 'Earliest publication time of a document mentioning the entity (null when unknown).';
COMMENT ON COLUMN mart_entities.last_published_at IS 'Latest publication time of a document mentioning the entity (null when unknown).';
