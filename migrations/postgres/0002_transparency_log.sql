-- The transparency log (RFC 6962): one leaf per published event (commitment, draw,
-- replacement, publication), appended in the transaction of the event itself, and the
-- checkpoints the daemon has signed. Both are append-only.

CREATE TABLE tlog_leaves (
    idx BIGINT PRIMARY KEY,
    entry TEXT NOT NULL,
    leaf_hash BYTEA NOT NULL,
    seq BIGINT NOT NULL
);
CREATE TRIGGER tlog_leaves_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON tlog_leaves
FOR EACH STATEMENT EXECUTE FUNCTION refuse('the transparency log is append-only');

CREATE TABLE tlog_checkpoints (
    size BIGINT PRIMARY KEY,
    root BYTEA NOT NULL,
    note TEXT NOT NULL
);
CREATE TRIGGER tlog_checkpoints_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON tlog_checkpoints
FOR EACH STATEMENT EXECUTE FUNCTION refuse('signed checkpoints are kept as signed');
