// Package apiserver is the Echo strict server interface and the embedded spec, generated from openapi.yaml.
package apiserver

//go:generate go tool oapi-codegen -config cfg.yaml ../../openapi.yaml
