-- name: CreateToken :one
INSERT INTO tokens (id, account_id, name, token_hash, prefix, expires_at)
VALUES (@id, @account_id, @name, @token_hash, @prefix, @expires_at)
RETURNING *;

-- name: GetValidTokenByHash :one
-- GetValidTokenByHash finds the token a credential resolves to, applying the validity rule:
-- not revoked and not expired.
SELECT id, account_id, last_used_at
FROM tokens
WHERE token_hash = @token_hash
  AND revoked_at IS NULL
  AND (expires_at IS NULL OR expires_at > now());

-- name: TouchTokenLastUsed :exec
-- TouchTokenLastUsed records a use, at most once a minute per token, so that reads do not
-- each turn into a write.
UPDATE tokens
SET last_used_at = now()
WHERE id = @id
  AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute');

-- name: ListTokensByAccount :many
SELECT *
FROM tokens
WHERE account_id = @account_id
  AND revoked_at IS NULL
ORDER BY created_at DESC, id DESC;

-- name: RevokeToken :execrows
UPDATE tokens
SET revoked_at = now()
WHERE id = @id
  AND account_id = @account_id
  AND revoked_at IS NULL;
