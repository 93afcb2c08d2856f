-- name: EnsureAccount :one
-- EnsureAccount returns the account with this email, creating it with id if there is none.
-- The no-op update makes RETURNING yield the existing row on conflict, in one statement
-- that is safe against a concurrent insert of the same email.
INSERT INTO accounts (id, email)
VALUES (@id, @email)
ON CONFLICT ((lower(email))) DO UPDATE SET email = accounts.email
RETURNING *;

-- name: GetAccountByEmail :one
SELECT * FROM accounts WHERE lower(email) = lower(@email);

-- name: SetAccountPassword :execrows
UPDATE accounts SET password_hash = @password_hash WHERE lower(email) = lower(@email);
