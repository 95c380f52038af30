-- 003: indexes the notifier's reconcilers lean on.
CREATE INDEX outbox_ticket_kind ON outbox (ticket_id, kind);
CREATE INDEX feedback_ticket_waiting ON feedback (ticket_id) WHERE processed_at IS NULL;
