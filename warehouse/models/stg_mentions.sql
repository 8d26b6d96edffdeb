-- stg_mentions: one row per entity mention in a canonical document (source: mentions).
CREATE OR REPLACE VIEW stg_mentions AS
SELECT
    m.doc_id,
    m."start" AS start_char,
    m."end" AS end_char,
    m.surface,
    m.label AS ner_label,
    m.sentence AS sentence_index,
    m.entity_id,
    m.run_id
FROM mentions AS m
WHERE m.doc_id IN (SELECT canonical_doc_id FROM dup_clusters);
COMMENT ON VIEW stg_mentions IS 'One row per entity mention in a canonical document: offsets, NER label, sentence, entity.';
COMMENT ON COLUMN stg_mentions.doc_id IS 'Canonical document mentioning the entity.';
COMMENT ON COLUMN stg_mentions.start_char IS 'Start offset in the document text (0-based, inclusive).';
COMMENT ON COLUMN stg_mentions.end_char IS 'End offset in the document text (exclusive): substring(text, start_char+1, end_char-start_char) = surface.';
COMMENT ON COLUMN stg_mentions.surface IS 'Mention text exactly as in the document.';
COMMENT ON COLUMN stg_mentions.ner_label IS 'Label given by the NER model (may differ from the resolved entity_type).';
COMMENT ON COLUMN stg_mentions.sentence_index IS 'Index of the sentence in the document, from 0.';
COMMENT ON COLUMN stg_mentions.entity_id IS 'Resolved entity (stg_entities.entity_id).';
COMMENT ON COLUMN stg_mentions.run_id IS 'Run that extracted the mention.';
