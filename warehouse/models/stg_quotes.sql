-- stg_quotes: one row per quoted statement in a canonical document (source: quotes).
CREATE OR REPLACE VIEW stg_quotes AS
SELECT
    q.doc_id,
    q."start" AS start_char,
    q."end" AS end_char,
    q."text" AS quote_text,
    q.speaker,
    q.speaker_entity_id,
    q.sentence AS sentence_index,
    q.run_id
FROM quotes AS q
WHERE q.doc_id IN (SELECT canonical_doc_id FROM dup_clusters);
COMMENT ON VIEW stg_quotes IS 'One row per quoted statement in a canonical document, with its speaker when named.';
COMMENT ON COLUMN stg_quotes.doc_id IS 'Canonical document containing the quote.';
COMMENT ON COLUMN stg_quotes.start_char IS 'Start offset of the quote in the document text (0-based, inclusive).';
COMMENT ON COLUMN stg_quotes.end_char IS 'End offset of the quote in the document text (exclusive).';
COMMENT ON COLUMN stg_quotes.quote_text IS 'Quoted text exactly as in the document.';
COMMENT ON COLUMN stg_quotes.speaker IS 'Speaker as written near the quote, if found.';
COMMENT ON COLUMN stg_quotes.speaker_entity_id IS 'Resolved speaker entity (stg_entities.entity_id), null when not named.';
COMMENT ON COLUMN stg_quotes.sentence_index IS 'Index of the sentence where the quote starts, from 0.';
COMMENT ON COLUMN stg_quotes.run_id IS 'Run that extracted the quote.';
