-- +goose Up
CREATE TABLE accounts (
    id         uuid        PRIMARY KEY,
    email      text        NOT NULL CHECK (email <> ''),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Email addresses are compared case-insensitively: Alice@example.com and
-- alice@example.com are one person.
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

-- +goose Down
DROP TABLE accounts;
