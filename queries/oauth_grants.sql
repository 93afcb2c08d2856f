-- name: CreateOAuthGrant :one
INSERT INTO oauth_grants (id, app_id, account_id)
VALUES (@id, @app_id, @account_id)
RETURNING *;

-- name: RevokeOAuthGrant :exec
UPDATE oauth_grants SET revoked_at = now() WHERE id = @id AND revoked_at IS NULL;
