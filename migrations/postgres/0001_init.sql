-- Schema v1. Library tables are versioned: a version is valid from the audit entry that
-- created it (valid_from) until the one that replaced it (valid_to, NULL while current). Rows
-- are never deleted or edited except to close a current version; triggers refuse the rest, and
-- `audit verify` detects changes made around them. Never edit this file once landed: add a
-- new migration. (PostgreSQL: keys compare byte by byte, COLLATE "C", as in SQLite.)

CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%', TG_ARGV[0];
END $$;

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash BYTEA NOT NULL,
    hash BYTEA NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION refuse('the audit log is append-only');

CREATE TABLE documents (
    kind TEXT NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C" NOT NULL,
    doc TEXT NOT NULL,
    secret BYTEA,
    seq BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
CREATE INDEX documents_parent ON documents (kind, parent);
CREATE TRIGGER documents_no_delete BEFORE DELETE OR TRUNCATE ON documents
FOR EACH STATEMENT EXECUTE FUNCTION refuse('documents are never deleted');

CREATE TABLE objects (
    key TEXT COLLATE "C" NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    src_line BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_current ON objects (key) WHERE valid_to IS NULL;
CREATE INDEX objects_created ON objects (valid_from, src_line);
CREATE INDEX objects_closed ON objects (valid_to, key) WHERE valid_to IS NOT NULL;
CREATE TRIGGER objects_immutable BEFORE UPDATE ON objects
FOR EACH ROW WHEN (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL OR NEW.key IS DISTINCT FROM OLD.key
  OR NEW.valid_from IS DISTINCT FROM OLD.valid_from OR NEW.src_line IS DISTINCT FROM OLD.src_line
  OR NEW.data IS DISTINCT FROM OLD.data)
EXECUTE FUNCTION refuse('library versions are immutable: only closing a current version is allowed');
CREATE TRIGGER objects_no_delete BEFORE DELETE OR TRUNCATE ON objects
FOR EACH STATEMENT EXECUTE FUNCTION refuse('library versions are never deleted');

CREATE TABLE inspectors (
    key TEXT COLLATE "C" NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    src_line BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX inspectors_current ON inspectors (key) WHERE valid_to IS NULL;
CREATE INDEX inspectors_created ON inspectors (valid_from, src_line);
CREATE INDEX inspectors_closed ON inspectors (valid_to, key) WHERE valid_to IS NOT NULL;
CREATE TRIGGER inspectors_immutable BEFORE UPDATE ON inspectors
FOR EACH ROW WHEN (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL OR NEW.key IS DISTINCT FROM OLD.key
  OR NEW.valid_from IS DISTINCT FROM OLD.valid_from OR NEW.src_line IS DISTINCT FROM OLD.src_line
  OR NEW.data IS DISTINCT FROM OLD.data)
EXECUTE FUNCTION refuse('library versions are immutable: only closing a current version is allowed');
CREATE TRIGGER inspectors_no_delete BEFORE DELETE OR TRUNCATE ON inspectors
FOR EACH STATEMENT EXECUTE FUNCTION refuse('library versions are never deleted');

CREATE TABLE credit_records (
    key TEXT COLLATE "C" NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    src_line BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX credit_records_current ON credit_records (key) WHERE valid_to IS NULL;
CREATE INDEX credit_records_created ON credit_records (valid_from, src_line);
CREATE INDEX credit_records_closed ON credit_records (valid_to, key) WHERE valid_to IS NOT NULL;
CREATE TRIGGER credit_records_immutable BEFORE UPDATE ON credit_records
FOR EACH ROW WHEN (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL OR NEW.key IS DISTINCT FROM OLD.key
  OR NEW.valid_from IS DISTINCT FROM OLD.valid_from OR NEW.src_line IS DISTINCT FROM OLD.src_line
  OR NEW.data IS DISTINCT FROM OLD.data)
EXECUTE FUNCTION refuse('library versions are immutable: only closing a current version is allowed');
CREATE TRIGGER credit_records_no_delete BEFORE DELETE OR TRUNCATE ON credit_records
FOR EACH STATEMENT EXECUTE FUNCTION refuse('library versions are never deleted');

CREATE TABLE inspections (
    key TEXT COLLATE "C" NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    src_line BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX inspections_current ON inspections (key) WHERE valid_to IS NULL;
CREATE INDEX inspections_created ON inspections (valid_from, src_line);
CREATE INDEX inspections_closed ON inspections (valid_to, key) WHERE valid_to IS NOT NULL;
CREATE TRIGGER inspections_immutable BEFORE UPDATE ON inspections
FOR EACH ROW WHEN (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL OR NEW.key IS DISTINCT FROM OLD.key
  OR NEW.valid_from IS DISTINCT FROM OLD.valid_from OR NEW.src_line IS DISTINCT FROM OLD.src_line
  OR NEW.data IS DISTINCT FROM OLD.data)
EXECUTE FUNCTION refuse('library versions are immutable: only closing a current version is allowed');
CREATE TRIGGER inspections_no_delete BEFORE DELETE OR TRUNCATE ON inspections
FOR EACH STATEMENT EXECUTE FUNCTION refuse('library versions are never deleted');

CREATE TABLE check_items (
    key TEXT COLLATE "C" NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT,
    src_line BIGINT NOT NULL,
    data TEXT NOT NULL
);
CREATE UNIQUE INDEX check_items_current ON check_items (key) WHERE valid_to IS NULL;
CREATE INDEX check_items_created ON check_items (valid_from, src_line);
CREATE INDEX check_items_closed ON check_items (valid_to, key) WHERE valid_to IS NOT NULL;
CREATE TRIGGER check_items_immutable BEFORE UPDATE ON check_items
FOR EACH ROW WHEN (OLD.valid_to IS NOT NULL OR NEW.valid_to IS NULL OR NEW.key IS DISTINCT FROM OLD.key
  OR NEW.valid_from IS DISTINCT FROM OLD.valid_from OR NEW.src_line IS DISTINCT FROM OLD.src_line
  OR NEW.data IS DISTINCT FROM OLD.data)
EXECUTE FUNCTION refuse('library versions are immutable: only closing a current version is allowed');
CREATE TRIGGER check_items_no_delete BEFORE DELETE OR TRUNCATE ON check_items
FOR EACH STATEMENT EXECUTE FUNCTION refuse('library versions are never deleted');
