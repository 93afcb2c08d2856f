-- name: CreateOAuthApp :one
INSERT INTO oauth_apps (id, account_id, name, description, redirect_uris, secret_hash)
VALUES (@id, @account_id, @name, @description, @redirect_uris, @secret_hash)
RETURNING *;

-- name: ListOAuthAppsByAccount :many
SELECT * FROM oauth_apps WHERE account_id = @account_id ORDER BY created_at DESC, id DESC;

-- name: GetOAuthApp :one
-- GetOAuthApp finds an application by client_id, whoever owns it: the authorization flow
-- serves every account's applications.
SELECT * FROM oauth_apps WHERE id = @id;

-- name: DeleteOAuthApp :execrows
DELETE FROM oauth_apps WHERE id = @id AND account_id = @account_id;

-- name: SetOAuthAppSecret :execrows
UPDATE oauth_apps SET secret_hash = @secret_hash WHERE id = @id AND account_id = @account_id;
