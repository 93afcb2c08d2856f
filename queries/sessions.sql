-- name: CreateSession :one
INSERT INTO sessions (id, account_id, token_hash, expires_at)
VALUES (@id, @account_id, @token_hash, @expires_at)
RETURNING *;

-- name: GetValidSessionByHash :one
-- GetValidSessionByHash finds a live session: before its absolute end and used since
-- seen_after (now minus the idle lifetime).
SELECT s.id, s.account_id, s.last_seen_at, s.expires_at, a.email
FROM sessions s
JOIN accounts a ON a.id = s.account_id
WHERE s.token_hash = @token_hash
  AND s.expires_at > now()
  AND s.last_seen_at > @seen_after;

-- name: TouchSession :exec
-- TouchSession records activity at most once a minute per session.
UPDATE sessions
SET last_seen_at = now()
WHERE id = @id
  AND last_seen_at < now() - interval '1 minute';

-- name: DeleteSession :execrows
DELETE FROM sessions WHERE id = @id AND account_id = @account_id;

-- name: DeleteSessionsByAccount :execrows
-- DeleteSessionsByAccount ends every session of an account, as a password change must.
DELETE FROM sessions WHERE account_id = @account_id;

-- name: DeleteEndedSessions :execrows
-- DeleteEndedSessions removes sessions past their absolute end or idle since before idle_since.
DELETE FROM sessions WHERE expires_at <= now() OR last_seen_at <= @idle_since;
