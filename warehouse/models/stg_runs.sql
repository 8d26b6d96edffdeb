-- stg_runs: one row per flow run (source: runs). Renames and derives the run's duration.
CREATE OR REPLACE VIEW stg_runs AS
SELECT
    run_id,
    started_at,
    finished_at,
    date_diff('millisecond', started_at, finished_at) / 1000.0 AS duration_s,
    status,
    code_version,
    n_files,
    n_files_skipped,
    n_records,
    n_quarantined,
    n_documents_new,
    n_documents_total,
    params AS params_json,
    counts AS counts_json
FROM runs;
COMMENT ON VIEW stg_runs IS 'One row per flow run: status, duration, code version and counts per stage.';
COMMENT ON COLUMN stg_runs.run_id IS 'Run identifier: UTC start time (YYYYMMDDTHHMMSS) plus a random suffix; sorts by time.';
COMMENT ON COLUMN stg_runs.started_at IS 'When the run started (UTC).';
COMMENT ON COLUMN stg_runs.finished_at IS 'When the run finished loading (UTC), before publish.';
COMMENT ON COLUMN stg_runs.duration_s IS 'finished_at - started_at in seconds.';
COMMENT ON COLUMN stg_runs.status IS 'Run outcome; only successful runs are ever published.';
COMMENT ON COLUMN stg_runs.code_version IS 'newsetl package version plus git commit of the code that ran.';
COMMENT ON COLUMN stg_runs.n_files IS 'Input files discovered.';
COMMENT ON COLUMN stg_runs.n_files_skipped IS 'Input files skipped because an earlier run (or this one) already ingested the same bytes.';
COMMENT ON COLUMN stg_runs.n_records IS 'Records read from the new files.';
COMMENT ON COLUMN stg_runs.n_quarantined IS 'Rows sent to quarantine by this run.';
COMMENT ON COLUMN stg_runs.n_documents_new IS 'Distinct documents this run added.';
COMMENT ON COLUMN stg_runs.n_documents_total IS 'Distinct documents in the warehouse after this run.';
COMMENT ON COLUMN stg_runs.params_json IS 'Run parameters (inputs, batch size, limits) as JSON text.';
COMMENT ON COLUMN stg_runs.counts_json IS 'Counts per stage as JSON text (the funnel of this run).';
