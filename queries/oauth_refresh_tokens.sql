-- name: CreateOAuthRefreshToken :exec
INSERT INTO oauth_refresh_tokens (id, grant_id, token_hash)
VALUES (@id, @grant_id, @token_hash);

-- name: UseOAuthRefreshToken :one
-- UseOAuthRefreshToken retires a refresh token as it is exchanged; only one exchange wins.
UPDATE oauth_refresh_tokens r
SET used_at = now()
FROM oauth_grants g
WHERE r.token_hash = @token_hash
  AND r.used_at IS NULL
  AND g.id = r.grant_id
  AND g.revoked_at IS NULL
RETURNING r.grant_id, g.app_id, g.account_id;

-- name: GetRetiredOAuthRefreshTokenGrant :one
-- GetRetiredOAuthRefreshTokenGrant returns the grant of a refresh token that was already
-- exchanged: presenting it again means it was stolen, and the grant must go.
SELECT grant_id FROM oauth_refresh_tokens WHERE token_hash = @token_hash AND used_at IS NOT NULL;
