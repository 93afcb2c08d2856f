-- +goose Up
-- A third-party application. Its id is the OAuth client_id.
CREATE TABLE oauth_apps (
    id            uuid        PRIMARY KEY,
    account_id    uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name          text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    description   text        CHECK (char_length(description) <= 1000),
    redirect_uris text[]      NOT NULL CHECK (cardinality(redirect_uris) BETWEEN 1 AND 10),
    -- SHA-256 of the client secret; the secret itself is never stored.
    secret_hash   bytea       NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_apps_account_id_idx ON oauth_apps (account_id, created_at DESC);

-- One person's approval of one application: every code, access and refresh token descends
-- from a grant, and revoking the grant revokes all of them.
CREATE TABLE oauth_grants (
    id         uuid        PRIMARY KEY,
    app_id     uuid        NOT NULL REFERENCES oauth_apps (id) ON DELETE CASCADE,
    account_id uuid        NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

CREATE TABLE oauth_codes (
    code_hash      bytea       PRIMARY KEY CHECK (octet_length(code_hash) = 32),
    grant_id       uuid        NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    redirect_uri   text        NOT NULL,
    -- PKCE S256 challenge, when the authorization request sent one.
    code_challenge text,
    expires_at     timestamptz NOT NULL,
    used_at        timestamptz
);

CREATE TABLE oauth_access_tokens (
    id         uuid        PRIMARY KEY,
    grant_id   uuid        NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX oauth_access_tokens_token_hash_key ON oauth_access_tokens (token_hash);

CREATE TABLE oauth_refresh_tokens (
    id         uuid        PRIMARY KEY,
    grant_id   uuid        NOT NULL REFERENCES oauth_grants (id) ON DELETE CASCADE,
    token_hash bytea       NOT NULL CHECK (octet_length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the token is exchanged; presenting it again after that is theft.
    used_at    timestamptz
);
CREATE UNIQUE INDEX oauth_refresh_tokens_token_hash_key ON oauth_refresh_tokens (token_hash);

-- +goose Down
DROP TABLE oauth_refresh_tokens;
DROP TABLE oauth_access_tokens;
DROP TABLE oauth_codes;
DROP TABLE oauth_grants;
DROP TABLE oauth_apps;
