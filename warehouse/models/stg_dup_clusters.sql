-- stg_dup_clusters: one row per document with its duplicate cluster (source: dup_clusters).
CREATE OR REPLACE VIEW stg_dup_clusters AS
SELECT
    doc_id,
    cluster_id,
    canonical_doc_id,
    doc_id = canonical_doc_id AS is_canonical,
    method,
    similarity,
    run_id
FROM dup_clusters;
COMMENT ON VIEW stg_dup_clusters IS 'One row per document: its duplicate cluster and whether it is the canonical one.';
COMMENT ON COLUMN stg_dup_clusters.doc_id IS 'Document (stg_documents.doc_id).';
COMMENT ON COLUMN stg_dup_clusters.cluster_id IS 'Cluster identifier: doc_id of the canonical document when the cluster was created.';
COMMENT ON COLUMN stg_dup_clusters.canonical_doc_id IS 'The one document of the cluster that is extracted and published.';
COMMENT ON COLUMN stg_dup_clusters.is_canonical IS 'True for the canonical document of the cluster.';
COMMENT ON COLUMN stg_dup_clusters.method IS 'exact (canonical or alone), near (MinHash Jaccard) or contained (overlap coefficient).';
COMMENT ON COLUMN stg_dup_clusters.similarity IS 'Similarity to the canonical under method, 0 to 1 (1 for exact).';
COMMENT ON COLUMN stg_dup_clusters.run_id IS 'Run that clustered the document.';
