package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"

	"github.com/hzel/hzel/gen/api"
	"github.com/hzel/hzel/gen/apiserver"
	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/pages"
	"github.com/hzel/hzel/server/token"
)

// Lifetimes of what the OAuth flow issues.
const (
	authCodeLifetime    = 10 * time.Minute
	accessTokenLifetime = 15 * time.Minute
)

// pkceChallenge is RFC 7636 §4.2's BASE64URL(SHA-256) of a verifier: 43 characters.
var (
	pkceChallenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)
	pkceVerifier  = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// authorizeRequest is what an authorization request asks for, once its client and
// redirect URI are known to be good.
type authorizeRequest struct {
	app                 db.OAuthApp
	redirectURI         string
	state               string
	codeChallenge       string
	codeChallengeMethod string
}

// checkClient finds the application and the redirect URI to answer to. Until both are
// verified nothing may be redirected anywhere (RFC 6749 §4.1.2.1): failures are pages.
func (s *Server) checkClient(ctx context.Context, clientID, redirectURI string) (authorizeRequest, *pages.Error, error) {
	id, err := uuid.Parse(clientID)
	if err != nil {
		return authorizeRequest{}, &pages.Error{Title: "Unknown application", Message: "The link you followed names no application (client_id is missing or malformed)."}, nil
	}
	app, err := s.queries.GetOAuthApp(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return authorizeRequest{}, &pages.Error{Title: "Unknown application", Message: "The link you followed names an application that does not exist."}, nil
	}
	if err != nil {
		return authorizeRequest{}, nil, fmt.Errorf("authorize: look up app %s: %w", id, err)
	}
	if redirectURI == "" && len(app.RedirectUris) == 1 {
		redirectURI = app.RedirectUris[0]
	}
	for _, registered := range app.RedirectUris {
		// Exact string comparison, as RFC 9700 §4.1.3 requires: no prefix or pattern match.
		if subtle.ConstantTimeCompare([]byte(registered), []byte(redirectURI)) == 1 {
			return authorizeRequest{app: app, redirectURI: registered}, nil, nil
		}
	}
	return authorizeRequest{}, &pages.Error{Title: "Invalid redirect", Message: fmt.Sprintf("The application %q did not register the address it asked to send you back to, so you will not be sent there.", app.Name)}, nil
}

// checkPKCE returns an OAuth error code and description when the challenge is unusable.
func checkPKCE(challenge, method string) (string, string) {
	switch {
	case challenge == "" && method == "":
		return "", ""
	case challenge == "":
		return "invalid_request", "code_challenge_method without code_challenge"
	case method != "S256":
		// RFC 7636 allows "plain", and an absent method means plain: it protects nothing
		// against an observer of the authorization request, so only S256 is accepted.
		return "invalid_request", "code_challenge_method must be S256"
	case !pkceChallenge.MatchString(challenge):
		return "invalid_request", "code_challenge must be the 43-character BASE64URL of a SHA-256"
	}
	return "", ""
}

// redirectTo builds the client redirect carrying params and the state.
func (a authorizeRequest) redirectTo(params url.Values) *string {
	u, err := url.Parse(a.redirectURI)
	if err != nil {
		u = &url.URL{} // registered URIs were checked; this cannot happen
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if a.state != "" {
		q.Set("state", a.state)
	}
	u.RawQuery = q.Encode()
	loc := u.String()
	return &loc
}

func redirectError(code, description string) url.Values {
	return url.Values{"error": {code}, "error_description": {description}}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// Authorize implements GET /api/v1/oauth/authorize.
func (s *Server) Authorize(ctx context.Context, req apiserver.AuthorizeRequestObject) (apiserver.AuthorizeResponseObject, error) {
	prm := req.Params
	ar, page, err := s.checkClient(ctx, deref(prm.ClientId), deref(prm.RedirectUri))
	if err != nil {
		return nil, err
	}
	if page != nil {
		body, err := s.pages.Render("error.html", page)
		if err != nil {
			return nil, err
		}
		return apiserver.Authorize400TexthtmlResponse{OAuthErrorPageTexthtmlResponse: htmlPage(body)}, nil
	}
	ar.state = deref(prm.State)
	switch rt := deref(prm.ResponseType); rt {
	case "code":
	case "":
		return apiserver.Authorize302Response{Headers: apiserver.RedirectToClientResponseHeaders{
			Location: ar.redirectTo(redirectError("invalid_request", "response_type is required"))}}, nil
	default:
		return apiserver.Authorize302Response{Headers: apiserver.RedirectToClientResponseHeaders{
			Location: ar.redirectTo(redirectError("unsupported_response_type", "only response_type=code is supported"))}}, nil
	}
	ar.codeChallenge, ar.codeChallengeMethod = deref(prm.CodeChallenge), deref(prm.CodeChallengeMethod)
	if code, desc := checkPKCE(ar.codeChallenge, ar.codeChallengeMethod); code != "" {
		return apiserver.Authorize302Response{Headers: apiserver.RedirectToClientResponseHeaders{
			Location: ar.redirectTo(redirectError(code, desc))}}, nil
	}

	p, ok := PrincipalFrom(ctx)
	if !ok || p.session == nil {
		back := "/api/v1/oauth/authorize?" + url.Values{
			"client_id": {ar.app.ID.String()}, "redirect_uri": {ar.redirectURI}, "response_type": {"code"},
			"state": {ar.state}, "code_challenge": {ar.codeChallenge}, "code_challenge_method": {ar.codeChallengeMethod},
		}.Encode()
		login := "/login?" + url.Values{"next": {back}}.Encode()
		return apiserver.Authorize303Response{Headers: apiserver.Authorize303ResponseHeaders{Location: &login}}, nil
	}
	redirectHost := ar.redirectURI
	if u, err := url.Parse(ar.redirectURI); err == nil {
		redirectHost = u.Host
	}
	body, err := s.pages.Render("consent.html", pages.Consent{
		AppName:             ar.app.Name,
		AppDescription:      deref(ar.app.Description),
		AccountEmail:        p.session.email,
		RedirectHost:        redirectHost,
		ClientID:            ar.app.ID.String(),
		RedirectURI:         ar.redirectURI,
		State:               ar.state,
		CodeChallenge:       ar.codeChallenge,
		CodeChallengeMethod: ar.codeChallengeMethod,
		CSRFToken:           p.session.csrfToken,
	})
	if err != nil {
		return nil, err
	}
	return apiserver.Authorize200TexthtmlResponse(htmlPage(body)), nil
}

// AuthorizeDecision implements POST /api/v1/oauth/authorize, the consent form.
func (s *Server) AuthorizeDecision(ctx context.Context, req apiserver.AuthorizeDecisionRequestObject) (apiserver.AuthorizeDecisionResponseObject, error) {
	form := req.Body
	p, ok := PrincipalFrom(ctx)
	if !ok || p.session == nil {
		body, err := s.pages.Render("error.html", pages.Error{Title: "Session ended", Message: "Your session has ended. Go back to the application and start again."})
		if err != nil {
			return nil, err
		}
		return apiserver.AuthorizeDecision401TexthtmlResponse(htmlPage(body)), nil
	}
	if !validCSRF(form.CsrfToken, p.session.csrfToken) {
		body, err := s.pages.Render("error.html", pages.Error{Title: "Request refused", Message: "This approval did not come from your consent page. Nothing was approved."})
		if err != nil {
			return nil, err
		}
		return apiserver.AuthorizeDecision403TexthtmlResponse(htmlPage(body)), nil
	}
	ar, page, err := s.checkClient(ctx, form.ClientId, form.RedirectUri)
	if err != nil {
		return nil, err
	}
	if page != nil {
		body, err := s.pages.Render("error.html", page)
		if err != nil {
			return nil, err
		}
		return apiserver.AuthorizeDecision400TexthtmlResponse{OAuthErrorPageTexthtmlResponse: htmlPage(body)}, nil
	}
	ar.state = deref(form.State)
	ar.codeChallenge, ar.codeChallengeMethod = deref(form.CodeChallenge), deref(form.CodeChallengeMethod)
	redirect := func(params url.Values) (apiserver.AuthorizeDecisionResponseObject, error) {
		return apiserver.AuthorizeDecision302Response{Headers: apiserver.RedirectToClientResponseHeaders{Location: ar.redirectTo(params)}}, nil
	}
	if code, desc := checkPKCE(ar.codeChallenge, ar.codeChallengeMethod); code != "" {
		return redirect(redirectError(code, desc))
	}
	if form.Decision != api.Approve {
		return redirect(redirectError("access_denied", "the person denied the request"))
	}

	code, err := token.AuthCode.Generate()
	if err != nil {
		return nil, fmt.Errorf("authorize: %w", err)
	}
	hash := code.Hash()
	var challenge *string
	if ar.codeChallenge != "" {
		challenge = &ar.codeChallenge
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.queries.WithTx(tx)
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		grant, err := q.CreateOAuthGrant(ctx, db.CreateOAuthGrantParams{ID: id, AppID: ar.app.ID, AccountID: p.AccountID})
		if err != nil {
			return err
		}
		return q.CreateOAuthCode(ctx, db.CreateOAuthCodeParams{
			CodeHash:      hash[:],
			GrantID:       grant.ID,
			RedirectUri:   ar.redirectURI,
			CodeChallenge: challenge,
			ExpiresAt:     s.now().Add(authCodeLifetime),
		})
	})
	if err != nil {
		return nil, fmt.Errorf("authorize app %s for account %s: %w", ar.app.ID, p.AccountID, err)
	}
	return redirect(url.Values{"code": {code.Reveal()}})
}

func htmlPage(body interface {
	io.Reader
	Len() int
}) apiserver.OAuthErrorPageTexthtmlResponse {
	return apiserver.OAuthErrorPageTexthtmlResponse{Body: body, ContentLength: int64(body.Len())}
}

// oauthFailure is an RFC 6749 §5.2 error from the token endpoint.
type oauthFailure struct {
	code        api.OAuthErrorError
	description string
}

func (f *oauthFailure) Error() string { return string(f.code) + ": " + f.description }

func oauthError(code api.OAuthErrorError, description string) *oauthFailure {
	return &oauthFailure{code, description}
}

// clientCredentialsKey carries HTTP Basic credentials to the token endpoint, which the
// strict handler cannot otherwise see.
type clientCredentialsKey struct{}

type clientCredentials struct{ id, secret string }

// withClientCredentials is a strict middleware that hands the token endpoint the
// request's HTTP Basic credentials, decoded as RFC 6749 §2.3.1 says.
func withClientCredentials(f apiserver.StrictHandlerFunc, operationID string) apiserver.StrictHandlerFunc {
	if operationID != "OAuthToken" {
		return f
	}
	return func(c echo.Context, request any) (any, error) {
		if id, secret, ok := c.Request().BasicAuth(); ok {
			id, errID := url.QueryUnescape(id)
			secret, errSecret := url.QueryUnescape(secret)
			if errID == nil && errSecret == nil {
				r := c.Request()
				c.SetRequest(r.WithContext(context.WithValue(r.Context(), clientCredentialsKey{}, clientCredentials{id, secret})))
			}
		}
		return f(c, request)
	}
}

// OAuthToken implements POST /api/v1/oauth/token.
func (s *Server) OAuthToken(ctx context.Context, req apiserver.OAuthTokenRequestObject) (apiserver.OAuthTokenResponseObject, error) {
	body := req.FormdataBody
	if body == nil {
		body = req.JSONBody
	}
	if body == nil {
		return oauthTokenError(oauthError(api.OAuthInvalidRequest, "send the request as application/x-www-form-urlencoded or application/json"))
	}
	app, err := s.authenticateClient(ctx, body)
	if err != nil {
		return oauthTokenError(err)
	}
	var set api.OAuthTokenSet
	switch body.GrantType {
	case "authorization_code":
		set, err = s.exchangeCode(ctx, app, body)
	case "refresh_token":
		set, err = s.refresh(ctx, app, body)
	case "":
		err = oauthError(api.OAuthInvalidRequest, "grant_type is required")
	default:
		err = oauthError(api.OAuthUnsupportedGrantType, "grant_type must be authorization_code or refresh_token")
	}
	if err != nil {
		return oauthTokenError(err)
	}
	// RFC 6749 §5.1: responses carrying tokens must not be cached.
	noStore := "no-store"
	return apiserver.OAuthToken200JSONResponse{Body: set, Headers: apiserver.OAuthToken200ResponseHeaders{CacheControl: &noStore}}, nil
}

// oauthTokenError answers an oauthFailure in RFC 6749 §5.2's form and passes anything else
// on as an internal error.
func oauthTokenError(err error) (apiserver.OAuthTokenResponseObject, error) {
	var f *oauthFailure
	if !errors.As(err, &f) {
		return nil, err
	}
	body := api.OAuthError{Error: f.code, ErrorDescription: &f.description}
	if f.code == api.OAuthInvalidClient {
		challenge := `Basic realm="hzel"`
		return apiserver.OAuthToken401JSONResponse{Body: body, Headers: apiserver.OAuthToken401ResponseHeaders{WWWAuthenticate: &challenge}}, nil
	}
	return apiserver.OAuthToken400JSONResponse(body), nil
}

var errBadClient = oauthError(api.OAuthInvalidClient, "unknown client or wrong client secret")

// authenticateClient checks the application's credentials, from HTTP Basic or the body.
func (s *Server) authenticateClient(ctx context.Context, body *api.OAuthTokenRequest) (db.OAuthApp, error) {
	creds, basic := ctx.Value(clientCredentialsKey{}).(clientCredentials)
	if basic && (body.ClientSecret != nil || (body.ClientId != nil && *body.ClientId != creds.id)) {
		return db.OAuthApp{}, oauthError(api.OAuthInvalidRequest, "authenticate the client one way: HTTP Basic or client_id and client_secret in the body")
	}
	if !basic {
		creds = clientCredentials{deref(body.ClientId), deref(body.ClientSecret)}
	}
	if creds.id == "" || creds.secret == "" {
		return db.OAuthApp{}, oauthError(api.OAuthInvalidClient, "client authentication is required: HTTP Basic or client_id and client_secret")
	}
	id, err := uuid.Parse(creds.id)
	if err != nil {
		return db.OAuthApp{}, errBadClient
	}
	secret, err := token.ClientSecret.Parse(creds.secret)
	if err != nil {
		return db.OAuthApp{}, errBadClient
	}
	app, err := s.queries.GetOAuthApp(ctx, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return db.OAuthApp{}, errBadClient
	}
	if err != nil {
		return db.OAuthApp{}, fmt.Errorf("authenticate client %s: %w", id, err)
	}
	hash := secret.Hash()
	if subtle.ConstantTimeCompare(hash[:], app.SecretHash) != 1 {
		return db.OAuthApp{}, errBadClient
	}
	return app, nil
}

var errBadCode = oauthError(api.OAuthInvalidGrant, "the code is unknown, expired or already used")

// exchangeCode trades an authorization code for tokens (RFC 6749 §4.1.3).
func (s *Server) exchangeCode(ctx context.Context, app db.OAuthApp, body *api.OAuthTokenRequest) (api.OAuthTokenSet, error) {
	code, err := token.AuthCode.Parse(deref(body.Code))
	if err != nil {
		return api.OAuthTokenSet{}, errBadCode
	}
	hash := code.Hash()
	var set api.OAuthTokenSet
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.queries.WithTx(tx)
		row, err := q.UseOAuthCode(ctx, hash[:])
		if err != nil {
			return err
		}
		// Any mismatch rolls back, leaving the code to its rightful client.
		if row.AppID != app.ID {
			return errBadCode
		}
		if deref(body.RedirectUri) != row.RedirectUri {
			return oauthError(api.OAuthInvalidGrant, "redirect_uri differs from the one the code was issued for")
		}
		if err := verifyPKCE(row.CodeChallenge, deref(body.CodeVerifier)); err != nil {
			return err
		}
		set, err = s.issueOAuthTokens(ctx, q, row.GrantID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// A code used twice was probably stolen: RFC 6749 §4.1.2 says to revoke what it
		// gave. Revoking the grant does that for every token descended from it.
		if _, err := s.revokeIfSpent(ctx, s.queries.GetSpentOAuthCodeGrant, hash[:]); err != nil {
			return api.OAuthTokenSet{}, fmt.Errorf("code reuse: %w", err)
		}
		return api.OAuthTokenSet{}, errBadCode
	}
	if err != nil {
		return api.OAuthTokenSet{}, err
	}
	return set, nil
}

// verifyPKCE checks a code_verifier against the challenge the code was issued with
// (RFC 7636 §4.6). A verifier without a challenge is refused too (RFC 9700 §2.1.1), so that
// PKCE cannot be silently downgraded away.
func verifyPKCE(challenge *string, verifier string) error {
	if challenge == nil {
		if verifier != "" {
			return oauthError(api.OAuthInvalidGrant, "code_verifier sent, but the authorization request had no code_challenge")
		}
		return nil
	}
	if !pkceVerifier.MatchString(verifier) {
		return oauthError(api.OAuthInvalidGrant, "code_verifier is missing or malformed")
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(*challenge)) != 1 {
		return oauthError(api.OAuthInvalidGrant, "code_verifier does not match the code_challenge")
	}
	return nil
}

var errBadRefresh = oauthError(api.OAuthInvalidGrant, "the refresh token is unknown, revoked or already used")

// refresh rotates a refresh token (RFC 6749 §6, RFC 9700 §4.14.2).
func (s *Server) refresh(ctx context.Context, app db.OAuthApp, body *api.OAuthTokenRequest) (api.OAuthTokenSet, error) {
	rt, err := token.RefreshToken.Parse(deref(body.RefreshToken))
	if err != nil {
		return api.OAuthTokenSet{}, errBadRefresh
	}
	hash := rt.Hash()
	var set api.OAuthTokenSet
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := s.queries.WithTx(tx)
		row, err := q.UseOAuthRefreshToken(ctx, hash[:])
		if err != nil {
			return err
		}
		if row.AppID != app.ID {
			return errBadRefresh
		}
		set, err = s.issueOAuthTokens(ctx, q, row.GrantID)
		return err
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// A retired refresh token presented again means two parties hold it: the grant
		// they share is revoked, and the person must approve the application again.
		revoked, err := s.revokeIfSpent(ctx, s.queries.GetRetiredOAuthRefreshTokenGrant, hash[:])
		if err != nil {
			return api.OAuthTokenSet{}, fmt.Errorf("refresh token reuse: %w", err)
		}
		if revoked {
			return api.OAuthTokenSet{}, oauthError(api.OAuthInvalidGrant, "the refresh token was already used: the grant is revoked")
		}
		return api.OAuthTokenSet{}, errBadRefresh
	}
	if err != nil {
		return api.OAuthTokenSet{}, err
	}
	return set, nil
}

// revokeIfSpent revokes the grant of a single-use secret (a code, a refresh token) that is
// presented again after it was spent, and reports whether it was.
func (s *Server) revokeIfSpent(ctx context.Context, spentGrant func(context.Context, []byte) (uuid.UUID, error), hash []byte) (bool, error) {
	grantID, err := spentGrant(ctx, hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up spent secret: %w", err)
	}
	if err := s.queries.RevokeOAuthGrant(ctx, grantID); err != nil {
		return false, fmt.Errorf("revoke grant %s: %w", grantID, err)
	}
	return true, nil
}

// issueOAuthTokens makes a new access token and refresh token for a grant.
func (s *Server) issueOAuthTokens(ctx context.Context, q *db.Queries, grantID uuid.UUID) (api.OAuthTokenSet, error) {
	access, err := token.AccessToken.Generate()
	if err != nil {
		return api.OAuthTokenSet{}, err
	}
	refresh, err := token.RefreshToken.Generate()
	if err != nil {
		return api.OAuthTokenSet{}, err
	}
	accessID, err := uuid.NewV7()
	if err != nil {
		return api.OAuthTokenSet{}, err
	}
	refreshID, err := uuid.NewV7()
	if err != nil {
		return api.OAuthTokenSet{}, err
	}
	accessHash, refreshHash := access.Hash(), refresh.Hash()
	if err := q.CreateOAuthAccessToken(ctx, db.CreateOAuthAccessTokenParams{
		ID: accessID, GrantID: grantID, TokenHash: accessHash[:], ExpiresAt: s.now().Add(accessTokenLifetime),
	}); err != nil {
		return api.OAuthTokenSet{}, fmt.Errorf("issue access token for grant %s: %w", grantID, err)
	}
	if err := q.CreateOAuthRefreshToken(ctx, db.CreateOAuthRefreshTokenParams{
		ID: refreshID, GrantID: grantID, TokenHash: refreshHash[:],
	}); err != nil {
		return api.OAuthTokenSet{}, fmt.Errorf("issue refresh token for grant %s: %w", grantID, err)
	}
	return api.OAuthTokenSet{
		AccessToken:  access.Reveal(),
		TokenType:    api.Bearer,
		ExpiresIn:    int(accessTokenLifetime.Seconds()),
		RefreshToken: refresh.Reveal(),
	}, nil
}

// resolveAccessToken authenticates an OAuth application's access token as its person.
func (s *Server) resolveAccessToken(r *http.Request, credentials string) (Principal, error) {
	secret, err := token.AccessToken.Parse(credentials)
	if err != nil {
		return Principal{}, errInvalidToken
	}
	hash := secret.Hash()
	row, err := s.queries.GetValidOAuthAccessToken(r.Context(), hash[:])
	if errors.Is(err, pgx.ErrNoRows) {
		return Principal{}, errInvalidToken
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up access token: %w", err)
	}
	return Principal{AccountID: row.AccountID, Kind: CredentialOAuthToken, CredentialID: row.ID}, nil
}
