-- mart_figures
-- Grain: one row per figure (number expression) in a canonical document, keyed by figure_id
-- (doc_id:start_char-end_char), with the entities mentioned in the same sentence. One document per duplicate
-- cluster, its canonical one (stg_figures), the only one extracted (earlier runs' rows of other members stay in
-- the figures table).
-- Incremental (warehouse/incremental.py): a run rebuilds the figures of the documents whose mart_documents row it
-- rebuilds, and of the documents mentioning an entity whose name the run changed (stg_entities keeps the first
-- run's name, so none today); --full-refresh rebuilds every row.
-- config: materialized=incremental, unique_key=doc_id
/*delta:
SELECT doc_id FROM _delta_mart_documents
UNION SELECT m.doc_id FROM stg_mentions AS m
 WHERE m.entity_id IN (
    SELECT e.entity_id FROM stg_entities AS e JOIN mart_entities AS p ON p.entity_id = e.entity_id
     WHERE e.entity_id IN (SELECT entity_id FROM _new_entities) AND e.name IS DISTINCT FROM p.name)
*/
CREATE OR REPLACE TABLE mart_figures AS
WITH sentence_entities AS (
    SELECT
        m.doc_id,
        m.sentence_index,
        list_sort(list_distinct(list(m.entity_id))) AS entity_ids,
        list_sort(list_distinct(list(e.name))) AS entity_names
    FROM stg_mentions AS m
    LEFT JOIN stg_entities AS e ON e.entity_id = m.entity_id
    WHERE m.entity_id IS NOT NULL
    /*incremental: AND m.doc_id IN (SELECT doc_id FROM _delta_mart_figures) */
    GROUP BY m.doc_id, m.sentence_index
)
SELECT
    f.doc_id || ':' || f.start_char || '-' || f.end_char AS figure_id,
    f.doc_id,
    f.start_char,
    f.end_char,
    f.surface,
    f."value",
    f.value_max,
    f.unit,
    f.kind,
    f.qualifier,
    f.subject,
    f.sentence_index,
    coalesce(s.entity_ids, []::VARCHAR[]) AS entity_ids,
    coalesce(s.entity_names, []::VARCHAR[]) AS entity_names,
    d.published_at
FROM stg_figures AS f
LEFT JOIN sentence_entities AS s ON s.doc_id = f.doc_id AND s.sentence_index = f.sentence_index
LEFT JOIN stg_documents AS d ON d.doc_id = f.doc_id
/*incremental: WHERE f.doc_id IN (SELECT doc_id FROM _delta_mart_figures) */
ORDER BY f.doc_id, f.start_char, f.end_char;
COMMENT ON TABLE mart_figures IS 'One row per figure in a canonical document, with the entities of its sentence.';
COMMENT ON COLUMN mart_figures.figure_id IS 'doc_id:start_char-end_char, unique.';
COMMENT ON COLUMN mart_figures.doc_id IS 'Canonical document containing the figure.';
COMMENT ON COLUMN mart_figures.start_char IS 'Start offset in the document text (0-based, inclusive).';
COMMENT ON COLUMN mart_figures.end_char IS 'End offset in the document text (exclusive).';
COMMENT ON COLUMN mart_figures.surface IS 'Figure text exactly as in the document.';
COMMENT ON COLUMN mart_figures."value" IS 'Numeric value (lower bound for a range), scaled.';
COMMENT ON COLUMN mart_figures.value_max IS 'Upper bound when the figure is a range, else null.';
COMMENT ON COLUMN mart_figures.unit IS 'Unit or currency, null for bare counts.';
COMMENT ON COLUMN mart_figures.kind IS 'count, money, percent, duration, ordinal or fraction.';
COMMENT ON COLUMN mart_figures.qualifier IS 'Hedge before the number (at least, about, more than, up to...) or null.';
COMMENT ON COLUMN mart_figures.subject IS 'What the figure counts, when found.';
COMMENT ON COLUMN mart_figures.sentence_index IS 'Index of the sentence in the document, from 0.';
COMMENT ON COLUMN mart_figures.entity_ids IS 'Entities mentioned in the same sentence, sorted (empty when none).';
COMMENT ON COLUMN mart_figures.entity_names IS 'Names of those entities, sorted.';
COMMENT ON COLUMN mart_figures.published_at IS 'Publication time of the document (UTC), when known.';
