-- name: CreateOAuthCode :exec
INSERT INTO oauth_codes (code_hash, grant_id, redirect_uri, code_challenge, expires_at)
VALUES (@code_hash, @grant_id, @redirect_uri, @code_challenge, @expires_at);

-- name: UseOAuthCode :one
-- UseOAuthCode spends a code: it succeeds once, for a live code of a live grant, and the
-- UPDATE makes two concurrent exchanges of one code race for a single row lock.
UPDATE oauth_codes c
SET used_at = now()
FROM oauth_grants g
WHERE c.code_hash = @code_hash
  AND c.used_at IS NULL
  AND c.expires_at > now()
  AND g.id = c.grant_id
  AND g.revoked_at IS NULL
RETURNING c.grant_id, c.redirect_uri, c.code_challenge, g.app_id, g.account_id;

-- name: GetSpentOAuthCodeGrant :one
-- GetSpentOAuthCodeGrant returns the grant of a code that was already used, to revoke it.
SELECT grant_id FROM oauth_codes WHERE code_hash = @code_hash AND used_at IS NOT NULL;

-- name: DeleteExpiredOAuthCodes :execrows
-- DeleteExpiredOAuthCodes removes codes a day after they expired; until then a spent code
-- is kept so that its reuse can still be caught.
DELETE FROM oauth_codes WHERE expires_at < now() - interval '1 day';
