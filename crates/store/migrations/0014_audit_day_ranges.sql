-- A day's audit records are found by their seq range between the seals (audit.rs), so the
-- by-day index, one more B-tree written by every change, goes.
DROP INDEX audit_records_by_day;
