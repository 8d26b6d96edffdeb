-- stg_documents: one row per distinct normalized document (source: documents).
CREATE OR REPLACE VIEW stg_documents AS
SELECT
    doc_id,
    record_id,
    source,
    title,
    url,
    published_at,
    lang,
    lang_prob,
    n_chars,
    n_words,
    first_seen,
    text,
    run_id
FROM documents;
COMMENT ON VIEW stg_documents IS 'One row per distinct normalized document (duplicates included; see stg_dup_clusters).';
COMMENT ON COLUMN stg_documents.doc_id IS 'SHA-256 of the normalized text: stable across runs.';
COMMENT ON COLUMN stg_documents.record_id IS 'First record that produced this document.';
COMMENT ON COLUMN stg_documents.source IS 'Source path of the first record.';
COMMENT ON COLUMN stg_documents.title IS 'Title from the source or the first line of the text.';
COMMENT ON COLUMN stg_documents.url IS 'URL from the source, if any.';
COMMENT ON COLUMN stg_documents.published_at IS 'Publication time (UTC) when the source gave a parseable one.';
COMMENT ON COLUMN stg_documents.lang IS 'ISO 639-1 language code from langdetect; und when too short or unsure.';
COMMENT ON COLUMN stg_documents.lang_prob IS 'langdetect probability of lang, 0 to 1.';
COMMENT ON COLUMN stg_documents.n_chars IS 'Characters in the normalized text.';
COMMENT ON COLUMN stg_documents.n_words IS 'Whitespace-separated words in the normalized text.';
COMMENT ON COLUMN stg_documents.first_seen IS 'Start time (UTC) of the run that first produced this document.';
COMMENT ON COLUMN stg_documents.text IS 'Normalized text: all character offsets in the extraction tables index this.';
COMMENT ON COLUMN stg_documents.run_id IS 'Run that first produced this document.';
