-- name: CreateOAuthAccessToken :exec
INSERT INTO oauth_access_tokens (id, grant_id, token_hash, expires_at)
VALUES (@id, @grant_id, @token_hash, @expires_at);

-- name: GetValidOAuthAccessToken :one
-- GetValidOAuthAccessToken applies an access token's validity rule: not expired, and its
-- grant not revoked (an application's deletion removes its grants).
SELECT t.id, g.account_id, g.app_id
FROM oauth_access_tokens t
JOIN oauth_grants g ON g.id = t.grant_id
WHERE t.token_hash = @token_hash
  AND t.expires_at > now()
  AND g.revoked_at IS NULL;

-- name: DeleteExpiredOAuthAccessTokens :execrows
DELETE FROM oauth_access_tokens WHERE expires_at < now() - interval '1 day';
