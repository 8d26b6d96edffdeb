-- stg_dates: one row per date expression in a canonical document (source: dates).
CREATE OR REPLACE VIEW stg_dates AS
SELECT
    d.doc_id,
    d."start" AS start_char,
    d."end" AS end_char,
    d.surface,
    d.iso AS iso_value,
    d."precision",
    d.resolved AS is_resolved,
    d.sentence AS sentence_index,
    d.run_id
FROM dates AS d
WHERE d.doc_id IN (SELECT canonical_doc_id FROM dup_clusters);
COMMENT ON VIEW stg_dates IS 'One row per date expression in a canonical document: ISO value when resolvable, precision.';
COMMENT ON COLUMN stg_dates.doc_id IS 'Canonical document containing the date.';
COMMENT ON COLUMN stg_dates.start_char IS 'Start offset in the document text (0-based, inclusive).';
COMMENT ON COLUMN stg_dates.end_char IS 'End offset in the document text (exclusive).';
COMMENT ON COLUMN stg_dates.surface IS 'Date text exactly as in the document.';
COMMENT ON COLUMN stg_dates.iso_value IS 'ISO 8601 value (YYYY, YYYY-MM or YYYY-MM-DD) when resolvable, else null.';
COMMENT ON COLUMN stg_dates."precision" IS 'Precision of iso_value: year, month or day.';
COMMENT ON COLUMN stg_dates.is_resolved IS 'True when the date has an ISO value: always for an absolute date (26 Feb 2022, 2011); for a relative or partial one (Thursday, last week, February 6) only when resolved against the publication date.';
COMMENT ON COLUMN stg_dates.sentence_index IS 'Index of the sentence in the document, from 0.';
COMMENT ON COLUMN stg_dates.run_id IS 'Run that extracted the date.';
