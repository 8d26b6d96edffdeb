-- stg_quarantine: one row per rejected record or row (source: quarantine).
CREATE OR REPLACE VIEW stg_quarantine AS
SELECT run_id, stage, source_ref, record_id, reason_code, detail
FROM quarantine;
COMMENT ON VIEW stg_quarantine IS 'One row per rejected record or row: stage, reason code and detail.';
COMMENT ON COLUMN stg_quarantine.run_id IS 'Run that rejected the row.';
COMMENT ON COLUMN stg_quarantine.stage IS 'Stage that rejected it (discover, ingest, normalize, language, ...).';
COMMENT ON COLUMN stg_quarantine.source_ref IS 'Where the row came from: file path or doc_id.';
COMMENT ON COLUMN stg_quarantine.record_id IS 'Rejected record (stg_raw_documents.record_id), null for a whole file.';
COMMENT ON COLUMN stg_quarantine.reason_code IS 'Machine-readable reason, e.g. empty_text, document_too_large, dq_null_title.';
COMMENT ON COLUMN stg_quarantine.detail IS 'Human-readable detail.';
