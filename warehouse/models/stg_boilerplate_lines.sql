-- stg_boilerplate_lines: one row per line removed by normalization (source: boilerplate_lines).
CREATE OR REPLACE VIEW stg_boilerplate_lines AS
SELECT doc_id, record_id, line_no, "text" AS line_text, "rule", run_id
FROM boilerplate_lines;
COMMENT ON VIEW stg_boilerplate_lines IS 'One row per line removed by normalization, with the rule that removed it.';
COMMENT ON COLUMN stg_boilerplate_lines.doc_id IS 'Document the line was removed from.';
COMMENT ON COLUMN stg_boilerplate_lines.record_id IS 'Record the line came from.';
COMMENT ON COLUMN stg_boilerplate_lines.line_no IS 'Index (0-based) of the removed line among the non-blank lines of the record text: blank lines are not counted.';
COMMENT ON COLUMN stg_boilerplate_lines.line_text IS 'The removed line.';
COMMENT ON COLUMN stg_boilerplate_lines."rule" IS 'Rule that removed it (transforms/boilerplate_rules.yaml).';
COMMENT ON COLUMN stg_boilerplate_lines.run_id IS 'Run that removed the line.';
