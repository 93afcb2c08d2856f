-- +goose Up
-- A PHC-format argon2id hash; NULL until a password is set, and such an account cannot log in.
ALTER TABLE accounts ADD COLUMN password_hash text;

CREATE TABLE sessions (
    id           uuid        PRIMARY KEY,
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- SHA-256 of the cookie's value; the value itself is never stored.
    token_hash   bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    -- The absolute end of the session, however busy it is.
    expires_at   timestamptz NOT NULL
);

CREATE UNIQUE INDEX sessions_token_hash_key ON sessions (token_hash);
CREATE INDEX sessions_account_id_idx ON sessions (account_id);

-- +goose Down
DROP TABLE sessions;
ALTER TABLE accounts DROP COLUMN password_hash;
