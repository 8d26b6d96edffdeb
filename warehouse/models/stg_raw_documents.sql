-- stg_raw_documents: one row per input record as read (source: raw_documents).
CREATE OR REPLACE VIEW stg_raw_documents AS
SELECT
    record_id,
    file_id,
    record_index,
    doc_id,
    doc_id IS NULL AS is_quarantined,
    title,
    url,
    published_at_raw,
    encoding,
    raw_text,
    run_id
FROM raw_documents;
COMMENT ON VIEW stg_raw_documents IS 'One row per input record as read, with the document it became (null when quarantined).';
COMMENT ON COLUMN stg_raw_documents.record_id IS 'Record identifier: file_id plus the record index in the file.';
COMMENT ON COLUMN stg_raw_documents.file_id IS 'File the record came from: stg_source_files.file_id of the row with status = ''ingested'' (other rows share the id).';
COMMENT ON COLUMN stg_raw_documents.record_index IS 'Position of the record in its file, from 0.';
COMMENT ON COLUMN stg_raw_documents.doc_id IS 'Document the record normalized to (stg_documents.doc_id); null when quarantined.';
COMMENT ON COLUMN stg_raw_documents.is_quarantined IS 'True when the record did not become a document (see stg_quarantine).';
COMMENT ON COLUMN stg_raw_documents.title IS 'Title as given by the source, if any.';
COMMENT ON COLUMN stg_raw_documents.url IS 'URL as given by the source, if any.';
COMMENT ON COLUMN stg_raw_documents.published_at_raw IS 'Publication date text as given by the source, unparsed.';
COMMENT ON COLUMN stg_raw_documents.encoding IS 'Character encoding the record was decoded with.';
COMMENT ON COLUMN stg_raw_documents.raw_text IS 'Record text before normalization.';
COMMENT ON COLUMN stg_raw_documents.run_id IS 'Run that read the record.';
