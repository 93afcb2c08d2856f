// Package db is the query code sqlc generates from schema/ and queries/ (configured by sqlc.yaml).
package db

//go:generate go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1 generate -f ../../sqlc.yaml
