-- stg_figures: one row per number expression in a canonical document (source: figures).
CREATE OR REPLACE VIEW stg_figures AS
SELECT
    f.doc_id,
    f."start" AS start_char,
    f."end" AS end_char,
    f.surface,
    f."value",
    f.value_max,
    f.unit,
    f.kind,
    f.qualifier,
    f.subject,
    f.sentence AS sentence_index,
    f.run_id
FROM figures AS f
WHERE f.doc_id IN (SELECT canonical_doc_id FROM dup_clusters);
COMMENT ON VIEW stg_figures IS 'One row per number expression in a canonical document: value, range, unit, kind, qualifier.';
COMMENT ON COLUMN stg_figures.doc_id IS 'Canonical document containing the figure.';
COMMENT ON COLUMN stg_figures.start_char IS 'Start offset in the document text (0-based, inclusive).';
COMMENT ON COLUMN stg_figures.end_char IS 'End offset in the document text (exclusive).';
COMMENT ON COLUMN stg_figures.surface IS 'Figure text exactly as in the document.';
COMMENT ON COLUMN stg_figures."value" IS 'Numeric value (lower bound for a range), scaled (e.g. 2.5 million = 2500000).';
COMMENT ON COLUMN stg_figures.value_max IS 'Upper bound when the figure is a range, else null.';
COMMENT ON COLUMN stg_figures.unit IS 'Unit or currency (e.g. USD, %, km, years), null for bare counts.';
COMMENT ON COLUMN stg_figures.kind IS 'count, money, percent, duration, ordinal or fraction.';
COMMENT ON COLUMN stg_figures.qualifier IS 'Hedge before the number: at least, about, more than, up to... or null.';
COMMENT ON COLUMN stg_figures.subject IS 'What the figure counts (the noun after it), when found.';
COMMENT ON COLUMN stg_figures.sentence_index IS 'Index of the sentence in the document, from 0.';
COMMENT ON COLUMN stg_figures.run_id IS 'Run that extracted the figure.';
