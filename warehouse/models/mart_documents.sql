-- mart_documents
-- Grain: one row per canonical document (one per duplicate cluster).
-- Duplicates are folded into their canonical document and counted in cluster_size. One count per cluster:
-- the counts of extracted items are the canonical document's (stg_* keep canonical documents; only the canonical
-- document is extracted, and runs before 2026-12-04 that also extracted the other members keep those rows in the
-- base tables).
-- Incremental (warehouse/incremental.py): a run rebuilds the rows of the canonical documents of the clusters it
-- added documents to (a near-duplicate joining an older cluster changes that cluster's size) and of the documents
-- it wrote extraction rows for; --full-refresh rebuilds every row. A run extracts only documents it added
-- (checked: extracted_rows_on_their_runs_documents), so a new canonical document's counts come from the run's
-- rows and an older one keeps its published row with the new cluster size: no other document is read.
-- config: materialized=incremental, unique_key=doc_id
/*delta:
SELECT canonical_doc_id AS doc_id FROM _new_dup_clusters
UNION SELECT doc_id FROM _new_mentions
UNION SELECT doc_id FROM _new_figures
UNION SELECT doc_id FROM _new_dates
UNION SELECT doc_id FROM _new_quotes
*/
/*incremental_query:
WITH clusters AS (
    SELECT cluster_id, canonical_doc_id, count(*) AS cluster_size
    FROM stg_dup_clusters
    WHERE canonical_doc_id IN (SELECT doc_id FROM _delta_mart_documents)
    GROUP BY cluster_id, canonical_doc_id
),
mention_counts AS (
    SELECT doc_id, count(*) AS n_mentions, count(DISTINCT entity_id) AS n_entities FROM _new_mentions GROUP BY doc_id
),
figure_counts AS (SELECT doc_id, count(*) AS n_figures FROM _new_figures GROUP BY doc_id),
date_counts AS (SELECT doc_id, count(*) AS n_dates FROM _new_dates GROUP BY doc_id),
quote_counts AS (SELECT doc_id, count(*) AS n_quotes FROM _new_quotes GROUP BY doc_id)
SELECT
    d.doc_id, c.cluster_id, c.cluster_size, d.title, d.url, d.source, d.published_at, d.lang, d.lang_prob,
    d.n_chars, d.n_words,
    coalesce(m.n_mentions, 0) AS n_mentions,
    coalesce(m.n_entities, 0) AS n_entities,
    coalesce(f.n_figures, 0) AS n_figures,
    coalesce(dt.n_dates, 0) AS n_dates,
    coalesce(q.n_quotes, 0) AS n_quotes,
    d.first_seen, d.run_id, d.text
FROM _new_documents AS d
JOIN clusters AS c ON c.canonical_doc_id = d.doc_id
LEFT JOIN mention_counts AS m ON m.doc_id = d.doc_id
LEFT JOIN figure_counts AS f ON f.doc_id = d.doc_id
LEFT JOIN date_counts AS dt ON dt.doc_id = d.doc_id
LEFT JOIN quote_counts AS q ON q.doc_id = d.doc_id
WHERE d.doc_id NOT IN (SELECT doc_id FROM _prior_mart_documents)
UNION ALL BY NAME
SELECT p.* REPLACE (c.cluster_size AS cluster_size)
FROM _prior_mart_documents AS p
JOIN clusters AS c ON c.canonical_doc_id = p.doc_id
*/
CREATE OR REPLACE TABLE mart_documents AS
WITH clusters AS (
    SELECT cluster_id, canonical_doc_id, count(*) AS cluster_size
    FROM stg_dup_clusters
    GROUP BY cluster_id, canonical_doc_id
),
mention_counts AS (
    SELECT doc_id, count(*) AS n_mentions, count(DISTINCT entity_id) AS n_entities
    FROM stg_mentions
    GROUP BY doc_id
),
figure_counts AS (
    SELECT doc_id, count(*) AS n_figures FROM stg_figures
    GROUP BY doc_id
),
date_counts AS (
    SELECT doc_id, count(*) AS n_dates FROM stg_dates
    GROUP BY doc_id
),
quote_counts AS (
    SELECT doc_id, count(*) AS n_quotes FROM stg_quotes
    GROUP BY doc_id
)
SELECT
    d.doc_id,
    c.cluster_id,
    c.cluster_size,
    d.title,
    d.url,
    d.source,
    d.published_at,
    d.lang,
    d.lang_prob,
    d.n_chars,
    d.n_words,
    coalesce(m.n_mentions, 0) AS n_mentions,
    coalesce(m.n_entities, 0) AS n_entities,
    coalesce(f.n_figures, 0) AS n_figures,
    coalesce(dt.n_dates, 0) AS n_dates,
    coalesce(q.n_quotes, 0) AS n_quotes,
    d.first_seen,
    d.run_id,
    d.text
FROM stg_documents AS d
JOIN clusters AS c ON c.canonical_doc_id = d.doc_id
LEFT JOIN mention_counts AS m ON m.doc_id = d.doc_id
LEFT JOIN figure_counts AS f ON f.doc_id = d.doc_id
LEFT JOIN date_counts AS dt ON dt.doc_id = d.doc_id
LEFT JOIN quote_counts AS q ON q.doc_id = d.doc_id
ORDER BY d.doc_id;
COMMENT ON TABLE mart_documents IS 'One row per canonical document (one per duplicate cluster), with cluster size, language and extraction counts.';
COMMENT ON COLUMN mart_documents.doc_id IS 'Canonical document: SHA-256 of its normalized text.';
COMMENT ON COLUMN mart_documents.cluster_id IS 'Duplicate cluster the document represents.';
COMMENT ON COLUMN mart_documents.cluster_size IS 'Documents in the cluster, this one included (1 = no duplicates).';
COMMENT ON COLUMN mart_documents.title IS 'Title from the source or the first line of the text.';
COMMENT ON COLUMN mart_documents.url IS 'URL from the source, if any.';
COMMENT ON COLUMN mart_documents.source IS 'Source path of the first record that produced the document.';
COMMENT ON COLUMN mart_documents.published_at IS 'Publication time (UTC) when the source gave a parseable one.';
COMMENT ON COLUMN mart_documents.lang IS 'ISO 639-1 language code; und when too short or unsure.';
COMMENT ON COLUMN mart_documents.lang_prob IS 'Language detection probability, 0 to 1.';
COMMENT ON COLUMN mart_documents.n_chars IS 'Characters in the normalized text.';
COMMENT ON COLUMN mart_documents.n_words IS 'Words in the normalized text.';
COMMENT ON COLUMN mart_documents.n_mentions IS 'Entity mentions extracted from the document.';
COMMENT ON COLUMN mart_documents.n_entities IS 'Distinct entities mentioned in the document.';
COMMENT ON COLUMN mart_documents.n_figures IS 'Number expressions extracted from the document.';
COMMENT ON COLUMN mart_documents.n_dates IS 'Date expressions extracted from the document.';
COMMENT ON COLUMN mart_documents.n_quotes IS 'Quoted statements extracted from the document.';
COMMENT ON COLUMN mart_documents.first_seen IS 'Start time (UTC) of the run that first produced the document.';
COMMENT ON COLUMN mart_documents.run_id IS 'Run that first produced the document.';
COMMENT ON COLUMN mart_documents.text IS 'Normalized text; offsets in mentions, figures, dates and quotes index it.';
