-- One round trip for a tile request: the caller behind a token digest (the
-- rules of gis.store.users.principal_for_token: token not revoked nor expired, user
-- active) and every layer change counter (migration 0002). No row: not authenticated.
SELECT u.id, u.username, u.role, u.scope_code, u.department_code,
       (SELECT json_object_agg(c.table_name, c.counter) FROM layer_changes c) AS counters
FROM api_tokens t
JOIN users u ON u.id = t.user_id
WHERE t.token_hash = :digest
  AND t.revoked_at IS NULL
  AND u.active
  AND (t.expires_at IS NULL OR t.expires_at > now())
