package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/gen/apiserver"
	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/token"
)

// Limits of an application's registration.
const (
	maxAppNameLength        = 100
	maxAppDescriptionLength = 1000
	maxRedirectURILength    = 2000
)

var errAppsByOAuthToken = envelope(api.CodeForbidden, "OAuth app tokens may not manage OAuth applications")

// CreateOAuthApp implements POST /api/v1/oauth/apps.
func (s *Server) CreateOAuthApp(ctx context.Context, req apiserver.CreateOAuthAppRequestObject) (apiserver.CreateOAuthAppResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == CredentialOAuthToken {
		return apiserver.CreateOAuthApp403JSONResponse{OAuthTokenForbiddenJSONResponse: apiserver.OAuthTokenForbiddenJSONResponse(errAppsByOAuthToken)}, nil
	}
	params, err := appParams(req.Body)
	var invalid *ValidationError
	if errors.As(err, &invalid) {
		return apiserver.CreateOAuthApp400JSONResponse{BadRequestJSONResponse: apiserver.BadRequestJSONResponse(
			envelope(api.CodeValidationFailed, invalid.Error()))}, nil
	}
	if params.ID, err = uuid.NewV7(); err != nil {
		return nil, fmt.Errorf("create oauth app: new id: %w", err)
	}
	secret, err := token.ClientSecret.Generate()
	if err != nil {
		return nil, fmt.Errorf("create oauth app: %w", err)
	}
	hash := secret.Hash()
	params.AccountID, params.SecretHash = p.AccountID, hash[:]
	app, err := s.queries.CreateOAuthApp(ctx, params)
	if err != nil {
		return nil, fmt.Errorf("create oauth app for account %s: %w", p.AccountID, err)
	}
	a := apiOAuthApp(app)
	return apiserver.CreateOAuthApp200JSONResponse{Data: api.CreatedOAuthApp{
		ClientSecret: secret.Reveal(),
		ClientId:     a.ClientId,
		Name:         a.Name,
		Description:  a.Description,
		RedirectUris: a.RedirectUris,
		CreatedAt:    a.CreatedAt,
	}}, nil
}

// appParams checks a registration and returns what is stored of it.
func appParams(req *api.CreateOAuthAppRequest) (db.CreateOAuthAppParams, error) {
	name, err := normalizeLabel("name", req.Name, maxAppNameLength)
	if err != nil {
		return db.CreateOAuthAppParams{}, err
	}
	var description *string
	if req.Description != nil {
		if d := strings.TrimSpace(*req.Description); d != "" {
			if d, err = normalizeLabel("description", d, maxAppDescriptionLength); err != nil {
				return db.CreateOAuthAppParams{}, err
			}
			description = &d
		}
	}
	seen := map[string]bool{}
	for i, uri := range req.RedirectUris {
		if err := checkRedirectURI(uri); err != nil {
			return db.CreateOAuthAppParams{}, &ValidationError{fmt.Sprintf("redirect_uris[%d]", i), err.Error()}
		}
		if seen[uri] {
			return db.CreateOAuthAppParams{}, &ValidationError{fmt.Sprintf("redirect_uris[%d]", i), "is listed twice"}
		}
		seen[uri] = true
	}
	return db.CreateOAuthAppParams{Name: name, Description: description, RedirectUris: req.RedirectUris}, nil
}

// checkRedirectURI enforces RFC 6749 §3.1.2 and RFC 9700 §2.1: an absolute URL without a
// fragment, over https, or plain http to the person's own machine only.
func checkRedirectURI(raw string) error {
	if len(raw) > maxRedirectURILength {
		return fmt.Errorf("must be at most %d characters", maxRedirectURILength)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" {
		return errors.New("must be an absolute URL such as https://app.example.com/callback")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return errors.New("must not contain a fragment (#)")
	}
	if u.User != nil {
		return errors.New("must not contain a user name or password")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopback(u.Hostname()) {
			return nil
		}
		return errors.New("must use https; http is allowed only for localhost, 127.0.0.1 and [::1]")
	}
	return errors.New("must use https")
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ListOAuthApps implements GET /api/v1/oauth/apps.
func (s *Server) ListOAuthApps(ctx context.Context, _ apiserver.ListOAuthAppsRequestObject) (apiserver.ListOAuthAppsResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == CredentialOAuthToken {
		return apiserver.ListOAuthApps403JSONResponse{OAuthTokenForbiddenJSONResponse: apiserver.OAuthTokenForbiddenJSONResponse(errAppsByOAuthToken)}, nil
	}
	rows, err := s.queries.ListOAuthAppsByAccount(ctx, p.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list oauth apps of account %s: %w", p.AccountID, err)
	}
	apps := make([]api.OAuthApp, 0, len(rows))
	for _, row := range rows {
		apps = append(apps, apiOAuthApp(row))
	}
	return apiserver.ListOAuthApps200JSONResponse{Data: apps}, nil
}

// DeleteOAuthApp implements DELETE /api/v1/oauth/apps/{client_id}. Its grants, codes and
// tokens go with it (ON DELETE CASCADE), so they stop working at once.
func (s *Server) DeleteOAuthApp(ctx context.Context, req apiserver.DeleteOAuthAppRequestObject) (apiserver.DeleteOAuthAppResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == CredentialOAuthToken {
		return apiserver.DeleteOAuthApp403JSONResponse{OAuthTokenForbiddenJSONResponse: apiserver.OAuthTokenForbiddenJSONResponse(errAppsByOAuthToken)}, nil
	}
	n, err := s.queries.DeleteOAuthApp(ctx, db.DeleteOAuthAppParams{ID: req.ClientId, AccountID: p.AccountID})
	if err != nil {
		return nil, fmt.Errorf("delete oauth app %s: %w", req.ClientId, err)
	}
	if n == 0 {
		return apiserver.DeleteOAuthApp404JSONResponse{NotFoundJSONResponse: apiserver.NotFoundJSONResponse(
			envelope(api.CodeNotFound, "application not found"))}, nil
	}
	return apiserver.DeleteOAuthApp200JSONResponse{Data: api.Deleted}, nil
}

// RotateOAuthAppSecret implements POST /api/v1/oauth/apps/{client_id}/secret.
func (s *Server) RotateOAuthAppSecret(ctx context.Context, req apiserver.RotateOAuthAppSecretRequestObject) (apiserver.RotateOAuthAppSecretResponseObject, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind == CredentialOAuthToken {
		return apiserver.RotateOAuthAppSecret403JSONResponse{OAuthTokenForbiddenJSONResponse: apiserver.OAuthTokenForbiddenJSONResponse(errAppsByOAuthToken)}, nil
	}
	secret, err := token.ClientSecret.Generate()
	if err != nil {
		return nil, fmt.Errorf("rotate secret of oauth app %s: %w", req.ClientId, err)
	}
	hash := secret.Hash()
	n, err := s.queries.SetOAuthAppSecret(ctx, db.SetOAuthAppSecretParams{ID: req.ClientId, AccountID: p.AccountID, SecretHash: hash[:]})
	if err != nil {
		return nil, fmt.Errorf("rotate secret of oauth app %s: %w", req.ClientId, err)
	}
	if n == 0 {
		return apiserver.RotateOAuthAppSecret404JSONResponse{NotFoundJSONResponse: apiserver.NotFoundJSONResponse(
			envelope(api.CodeNotFound, "application not found"))}, nil
	}
	var env api.RotatedSecretEnvelope
	env.Data.ClientId, env.Data.ClientSecret = req.ClientId, secret.Reveal()
	return apiserver.RotateOAuthAppSecret200JSONResponse(env), nil
}

func apiOAuthApp(a db.OAuthApp) api.OAuthApp {
	return api.OAuthApp{
		ClientId:     a.ID,
		Name:         a.Name,
		Description:  a.Description,
		RedirectUris: a.RedirectUris,
		CreatedAt:    a.CreatedAt.UTC(),
	}
}
