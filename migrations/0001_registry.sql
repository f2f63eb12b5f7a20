-- The registry and job queue of several replicas (see src/cluster). A model's record (its
-- ModelMeta as JSON) and status live in `models`; the weights live in the object store under
-- `weights_key`, put before the row that names them commits. A job's queue mechanics (lease,
-- attempts, cancel request, progress) live in `jobs`; its state is the model's status.

-- Every change of any model takes the next number: a model deleted and made again under the
-- same name never gets back a version a replica's cache (or a client's ETag) still holds.
CREATE SEQUENCE model_versions;

CREATE TABLE models (
    name text PRIMARY KEY,
    status text NOT NULL,
    record jsonb NOT NULL,
    weights_key text,
    -- Caches of a model are keyed by it.
    version bigint NOT NULL DEFAULT nextval('model_versions'),
    changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX models_by_status ON models (status);
CREATE INDEX models_by_weights ON models (weights_key);

CREATE TABLE jobs (
    name text PRIMARY KEY REFERENCES models (name) ON DELETE CASCADE,
    -- Order of submission: the oldest queued job is claimed first.
    seq bigserial NOT NULL,
    -- The training's input in the object store: its settings (JSON) and data (.npy).
    input_key text NOT NULL,
    worker text,
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    progress double precision NOT NULL DEFAULT 0,
    iterations_done bigint NOT NULL DEFAULT 0,
    running_since timestamptz,
    -- The `verbose` additions of a success, for the `/train` that waits for it.
    verbose_key text
);

CREATE INDEX jobs_by_seq ON jobs (seq);
