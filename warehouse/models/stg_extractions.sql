-- stg_extractions: one row per canonical document sent to extraction (source: extractions).
CREATE OR REPLACE VIEW stg_extractions AS
SELECT doc_id, status, reason AS skip_reason, n_mentions, n_figures, n_dates, n_quotes, run_id,
       status = 'extracted' AS is_extracted
FROM extractions;
COMMENT ON VIEW stg_extractions IS 'One row per canonical document sent to extraction: extracted or skipped, with counts.';
COMMENT ON COLUMN stg_extractions.doc_id IS 'Canonical document (stg_documents.doc_id).';
COMMENT ON COLUMN stg_extractions.status IS 'extracted, or skipped (see skip_reason).';
COMMENT ON COLUMN stg_extractions.skip_reason IS 'Why it was skipped: non_english, empty_text, extract_error: ...; null when extracted.';
COMMENT ON COLUMN stg_extractions.n_mentions IS 'Entity mentions extracted from the document.';
COMMENT ON COLUMN stg_extractions.n_figures IS 'Figures extracted from the document.';
COMMENT ON COLUMN stg_extractions.n_dates IS 'Dates extracted from the document.';
COMMENT ON COLUMN stg_extractions.n_quotes IS 'Quotes extracted from the document.';
COMMENT ON COLUMN stg_extractions.run_id IS 'Run that extracted it.';
COMMENT ON COLUMN stg_extractions.is_extracted IS 'True when status is extracted.';
