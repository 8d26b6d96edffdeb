-- stg_dq_results: one row per data-quality expectation evaluated per run (source: dq_results).
CREATE OR REPLACE VIEW stg_dq_results AS
SELECT
    run_id,
    stage,
    suite,
    expectation,
    column_name,
    success AS is_success,
    severity,
    unexpected_count,
    observed_value
FROM dq_results;
COMMENT ON VIEW stg_dq_results IS 'One row per data-quality expectation evaluated per run: stage, success, severity.';
COMMENT ON COLUMN stg_dq_results.run_id IS 'Run that evaluated the expectation.';
COMMENT ON COLUMN stg_dq_results.stage IS 'Stage whose output was checked.';
COMMENT ON COLUMN stg_dq_results.suite IS 'Great Expectations suite name (expectations/<stage>.json).';
COMMENT ON COLUMN stg_dq_results.expectation IS 'Expectation type, e.g. expect_column_values_to_not_be_null.';
COMMENT ON COLUMN stg_dq_results.column_name IS 'Column checked, null for table-level expectations.';
COMMENT ON COLUMN stg_dq_results.is_success IS 'True when the expectation held.';
COMMENT ON COLUMN stg_dq_results.severity IS 'error (stops the run) or warning (offending rows quarantined).';
COMMENT ON COLUMN stg_dq_results.unexpected_count IS 'Rows that did not meet the expectation.';
COMMENT ON COLUMN stg_dq_results.observed_value IS 'Observed value or unexpected percent, as text.';
