-- The note every new database starts with; run again on a deploy only when this file changes,
-- so it replaces rather than adds.
INSERT OR REPLACE INTO notes (id, text) VALUES (1, 'welcome');
