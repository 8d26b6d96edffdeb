-- stg_extractions: one row per new document of a run, extracted or skipped with why (source: extractions).
CREATE OR REPLACE VIEW stg_extractions AS
SELECT doc_id, status, reason AS skip_reason, n_mentions, n_figures, n_dates, n_quotes, run_id,
       status = 'extracted' AS is_extracted
FROM extractions;
COMMENT ON VIEW stg_extractions IS 'One row per new document of a run: extracted (a cluster''s canonical document) or skipped with why, with counts.';
COMMENT ON COLUMN stg_extractions.doc_id IS 'Document (documents.doc_id): extracted if it is its cluster''s canonical document.';
COMMENT ON COLUMN stg_extractions.status IS 'extracted, or skipped (see skip_reason).';
COMMENT ON COLUMN stg_extractions.skip_reason IS 'Why it was skipped: near_duplicate (its cluster''s canonical document is extracted), non_english, empty_text, extract_error: ...; null when extracted.';
COMMENT ON COLUMN stg_extractions.n_mentions IS 'Entity mentions extracted from the document.';
COMMENT ON COLUMN stg_extractions.n_figures IS 'Figures extracted from the document.';
COMMENT ON COLUMN stg_extractions.n_dates IS 'Dates extracted from the document.';
COMMENT ON COLUMN stg_extractions.n_quotes IS 'Quotes extracted from the document.';
COMMENT ON COLUMN stg_extractions.run_id IS 'Run that extracted it.';
COMMENT ON COLUMN stg_extractions.is_extracted IS 'True when status is extracted.';
