-- 005: the mass-incident check works on an index in the classifier's
-- memory (services/classifier/classifier_index.c), not on a scan of the
-- window's tickets. Every classified ticket gets a place in one order,
-- taken under the classifiers' advisory lock, so each instance can replay
-- what the others classified since it last looked.
CREATE SEQUENCE tickets_signature_seq;
ALTER TABLE tickets ADD COLUMN signature_seq bigint;
CREATE INDEX tickets_signature_order ON tickets (signature_seq) WHERE signature_seq IS NOT NULL;
-- the old per-ticket scan's index
DROP INDEX IF EXISTS tickets_recent_signature;
