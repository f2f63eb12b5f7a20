-- The datasets of several replicas: the record (DatasetRecord as JSON) here, the data (a
-- float64 .npy) in the object store under `data_key`, put before the row that names it commits.

CREATE TABLE datasets (
    name text PRIMARY KEY,
    record jsonb NOT NULL,
    data_key text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
