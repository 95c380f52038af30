-- 006: the sla reconciler's questions cost what they find, not what the
-- table holds: tickets that have no deadlines yet (the mirror column is
-- set when their timers are made), and tickets accepted lately.
CREATE INDEX tickets_untracked ON tickets (id) WHERE response_due_at IS NULL AND priority IS NOT NULL;
CREATE INDEX tickets_accepted_at ON tickets (accepted_at) WHERE accepted_at IS NOT NULL;
