-- stg_shared_passages: one row per paragraph a document shares with a document of another cluster.
CREATE OR REPLACE VIEW stg_shared_passages AS
SELECT
    doc_id,
    other_doc_id,
    passage_hash,
    "start" AS start_char,
    "end" AS end_char,
    n_chars,
    run_id
FROM shared_passages;
COMMENT ON VIEW stg_shared_passages IS 'One row per paragraph a document shares verbatim with a document of another cluster.';
COMMENT ON COLUMN stg_shared_passages.doc_id IS 'Document containing the passage.';
COMMENT ON COLUMN stg_shared_passages.other_doc_id IS 'Other document containing the same passage.';
COMMENT ON COLUMN stg_shared_passages.passage_hash IS 'Hash of the normalized passage text.';
COMMENT ON COLUMN stg_shared_passages.start_char IS 'Start offset of the passage in doc_id''s text (0-based, inclusive).';
COMMENT ON COLUMN stg_shared_passages.end_char IS 'End offset of the passage in doc_id''s text (exclusive).';
COMMENT ON COLUMN stg_shared_passages.n_chars IS 'Length of the passage in characters.';
COMMENT ON COLUMN stg_shared_passages.run_id IS 'Run that found the shared passage.';
