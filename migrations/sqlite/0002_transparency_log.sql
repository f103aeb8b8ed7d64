-- The transparency log (RFC 6962): one leaf per published event (commitment, draw,
-- replacement, publication), appended in the transaction of the event itself, and the
-- checkpoints the daemon has signed. Both are append-only.

CREATE TABLE tlog_leaves (
    idx INTEGER PRIMARY KEY,
    entry TEXT NOT NULL,
    leaf_hash BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE TRIGGER tlog_leaves_no_update BEFORE UPDATE ON tlog_leaves
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;
CREATE TRIGGER tlog_leaves_no_delete BEFORE DELETE ON tlog_leaves
BEGIN SELECT RAISE(ABORT, 'the transparency log is append-only'); END;

CREATE TABLE tlog_checkpoints (
    size INTEGER PRIMARY KEY,
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
CREATE TRIGGER tlog_checkpoints_no_update BEFORE UPDATE ON tlog_checkpoints
BEGIN SELECT RAISE(ABORT, 'signed checkpoints are kept as signed'); END;
CREATE TRIGGER tlog_checkpoints_no_delete BEFORE DELETE ON tlog_checkpoints
BEGIN SELECT RAISE(ABORT, 'signed checkpoints are kept as signed'); END;
