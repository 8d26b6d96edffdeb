-- stg_source_files: one row per input file per run (source: source_files).
CREATE OR REPLACE VIEW stg_source_files AS
SELECT file_id, path, sha256, bytes, format, status, n_records, run_id
FROM source_files;
COMMENT ON VIEW stg_source_files IS 'One row per input file per run: path, sha256, bytes, format, ingest status.';
COMMENT ON COLUMN stg_source_files.file_id IS 'Content id of the file (its sha256''s first 16 hex digits): byte-identical copies and a file''s later unchanged rows share it; the row with status = ''ingested'' is the one its records came from.';
COMMENT ON COLUMN stg_source_files.path IS 'Path of the file as discovered.';
COMMENT ON COLUMN stg_source_files.sha256 IS 'SHA-256 of the file bytes; files with a known hash are not ingested again.';
COMMENT ON COLUMN stg_source_files.bytes IS 'File size in bytes.';
COMMENT ON COLUMN stg_source_files.format IS 'Input format detected (txt, md, html, jsonl, csv, parquet...).';
COMMENT ON COLUMN stg_source_files.status IS 'ingested, unchanged (seen in an earlier run) or duplicate_in_run.';
COMMENT ON COLUMN stg_source_files.n_records IS 'Records read from the file (0 when not ingested).';
COMMENT ON COLUMN stg_source_files.run_id IS 'Run that discovered the file (stg_runs.run_id).';
