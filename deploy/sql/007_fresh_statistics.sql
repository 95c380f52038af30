-- 007: at a peak the ticket tables grow tenfold within minutes. With the
-- default thresholds (a tenth of the table changed) their statistics lag
-- far behind, and the planner, believing a status holds a few hundred
-- tickets, sorts a hundred thousand where an index walk would stop after
-- a batch. Analyze after every 2 % of change instead (a sample of 30000
-- rows: tens of milliseconds), and vacuum the tickets' dead versions (each
-- ticket is rewritten at every stage) before they slow the index walks.
-- The history (ticket_events) is read by ticket, whatever its statistics,
-- and keeps the defaults.
ALTER TABLE tickets SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000,
                         autovacuum_vacuum_scale_factor = 0.05, autovacuum_vacuum_threshold = 1000);
ALTER TABLE sla_timers SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_analyze_threshold = 1000);
