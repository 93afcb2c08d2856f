# hzel: `make run` starts the service, `make test` runs every test. See README.md.
SHELL := /bin/bash
.DEFAULT_GOAL := help

GO      ?= go
REDOCLY := npx --yes @redocly/cli@2.77.0

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

.PHONY: run
run: build ## start the service (embedded PostgreSQL under ./.data unless DATABASE_URL is set)
	./bin/hzel-server serve

.PHONY: build
build: ## build bin/hzel-server and bin/hzel
	$(GO) build -o bin/ ./cmd/hzel-server ./cmd/hzel

.PHONY: test
test: ## run all tests against the PostgreSQL at 127.0.0.1:5432 (HZEL_TEST_DATABASE_URL overrides)
	$(GO) test -race -count=1 ./...

.PHONY: generate
generate: ## regenerate gen/ from openapi.yaml, schema/ and queries/
	$(GO) generate ./gen/...

.PHONY: check
check: check-tidy check-generated check-sdk vet lint-spec ## every static check CI runs

.PHONY: check-tidy
check-tidy: ## fail if go.mod or go.sum is not tidy
	$(GO) mod tidy -diff

.PHONY: check-generated
check-generated: generate ## fail if the committed generated code is stale
	@git diff --exit-code -- gen/ || { echo "gen/ is stale: run 'make generate' and commit the result" >&2; exit 1; }
	@test -z "$$(git status --porcelain -- gen/)" || { git status --porcelain -- gen/; echo "gen/ has untracked generated files: commit them" >&2; exit 1; }

.PHONY: check-sdk
check-sdk: ## fail if the SDK (gen/api) would drag the server into a client program's build
	@! $(GO) list -deps ./gen/api | grep -E 'labstack/echo|getkin/kin-openapi|hzel/hzel/server' || { echo "gen/api must not depend on the server side" >&2; exit 1; }

.PHONY: vet
vet: ## go vet and gofmt
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w on the files above" >&2; exit 1; }

.PHONY: lint-spec
lint-spec: ## lint openapi.yaml with Redocly
	$(REDOCLY) lint openapi.yaml

.PHONY: bench
bench: ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: fuzz
fuzz: ## fuzz the token parser for a minute
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./server/token/

.PHONY: docs
docs: ## write the API reference as one self-contained HTML file, bin/docs/index.html
	$(GO) run ./server/docs/static -o bin/docs/index.html
