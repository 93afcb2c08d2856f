// Package api is hzel's Go SDK: the API's types and a typed client, generated from openapi.yaml.
package api

//go:generate go tool oapi-codegen -config cfg.yaml ../../openapi.yaml
