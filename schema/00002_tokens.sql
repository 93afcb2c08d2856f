-- +goose Up
CREATE TABLE tokens (
    id           uuid        PRIMARY KEY,
    account_id   uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name         text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- SHA-256 of the whole raw token; the raw token itself is never stored.
    token_hash   bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    prefix       text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);

-- Authentication is one indexed equality on the hash.
CREATE UNIQUE INDEX tokens_token_hash_key ON tokens (token_hash);

-- Listing reads an account's live tokens newest first.
CREATE INDEX tokens_account_id_created_at_idx ON tokens (account_id, created_at DESC, id DESC)
    WHERE revoked_at IS NULL;

-- +goose Down
DROP TABLE tokens;
