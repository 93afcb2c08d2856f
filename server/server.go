// Package server is hzel's HTTP API: the handlers behind the generated strict server
// interface, authentication, spec validation and the error envelope.
package server

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	echomiddleware "github.com/oapi-codegen/echo-middleware"

	"github.com/hzel/hzel/gen/apiserver"
	"github.com/hzel/hzel/gen/db"
	"github.com/hzel/hzel/server/docs"
	"github.com/hzel/hzel/server/pages"
	"github.com/hzel/hzel/server/password"
)

// maxBodyBytes bounds every request body; a token request is a few hundred bytes.
const maxBodyBytes = 64 * 1024

// Config holds what the API needs besides its database.
type Config struct {
	// Logger receives the access log and internal errors. Nil discards them.
	Logger *slog.Logger
	// Now is the clock used to judge expiry dates. Nil means time.Now.
	Now func() time.Time
	// SessionIdle ends a browser session unused for this long; zero means DefaultSessionIdle.
	SessionIdle time.Duration
	// SessionLifetime ends a browser session this long after login, however busy; zero means
	// DefaultSessionLifetime.
	SessionLifetime time.Duration
	// InsecureCookies drops the Secure attribute (and so the __Host- prefix) from the session
	// cookie, for development over plain HTTP only.
	InsecureCookies bool
}

// Server implements the generated strict server interface.
type Server struct {
	pool            *pgxpool.Pool
	queries         *db.Queries
	logger          *slog.Logger
	now             func() time.Time
	sessionIdle     time.Duration
	sessionLifetime time.Duration
	insecureCookies bool
	// public holds "METHOD /echo/path" of the operations the spec marks security: [].
	public map[string]bool
	// standInHash is a password hash that no password matches, made on first use.
	standInHash func() (string, error)
	pages       *pages.Set
}

var _ apiserver.StrictServerInterface = (*Server)(nil)

// newServer applies cfg's defaults; New adds the spec, the pages and the routes.
func newServer(cfg Config, pool *pgxpool.Pool) *Server {
	s := &Server{
		pool:            pool,
		queries:         db.New(pool),
		logger:          cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		now:             cfg.Now,
		sessionIdle:     cmp.Or(cfg.SessionIdle, DefaultSessionIdle),
		sessionLifetime: cmp.Or(cfg.SessionLifetime, DefaultSessionLifetime),
		insecureCookies: cfg.InsecureCookies,
		standInHash: sync.OnceValues(func() (string, error) {
			return password.Hash(uuid.NewString())
		}),
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// New wires hzel's middleware and routes over pool and returns the HTTP handler.
func New(cfg Config, pool *pgxpool.Pool) (*echo.Echo, error) {
	s := newServer(cfg, pool)
	spec, err := apiserver.GetSwagger()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	s.public = publicOperations(spec)
	if s.pages, err = pages.Parse(); err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError

	e.Use(middleware.RequestID())
	// The access log sits outside recover so that a request that panicked is logged too,
	// with the 500 it was answered with.
	e.Use(middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		HandleError:   true,
		LogLatency:    true,
		LogMethod:     true,
		LogRoutePath:  true,
		LogRequestID:  true,
		LogStatus:     true,
		LogRemoteIP:   true,
		LogValuesFunc: s.logRequest,
	}))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableErrorHandler: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.logger.ErrorContext(c.Request().Context(), "panic",
				"request_id", c.Response().Header().Get(echo.HeaderXRequestID), "error", err, "stack", string(stack))
			return err
		},
	}))
	e.Use(middleware.BodyLimit(fmt.Sprintf("%dB", maxBodyBytes)))
	e.Use(s.authenticate)
	e.Use(echomiddleware.OapiRequestValidatorWithOptions(spec, &echomiddleware.Options{
		// The spec lists servers for the docs; the host a request came to is not validated.
		DoNotValidateServers: true,
		Skipper:              func(c echo.Context) bool { return !isAPIPath(c.Request().URL.Path) },
		ErrorHandler:         validationError,
		Options: openapi3filter.Options{
			// Authentication already happened, in s.authenticate.
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			// The handler then binds exactly the value that was validated.
			KeepValidatedValue: true,
			SchemaValidationOptions: []openapi3.SchemaValidationOption{
				openapi3.WithStringFormatValidator("date-time", dateTimeFormat),
				// kin-openapi leaves uuid unchecked by default; without this a malformed id
				// would reach the generated binder and come back as a bare BAD_REQUEST.
				openapi3.WithStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(
					`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)),
			},
		},
	}))

	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	if err := docs.Register(e); err != nil {
		return nil, fmt.Errorf("api docs: %w", err)
	}
	e.GET("/login", s.loginPage)
	e.POST("/login", s.loginForm)
	e.POST("/logout", s.logoutForm)
	e.GET("/account", s.accountPage)
	e.POST("/account/tokens", s.accountCreateToken)
	e.POST("/account/tokens/:id/revoke", s.accountRevokeToken)
	apiserver.RegisterHandlers(e, apiserver.NewStrictHandler(s, []apiserver.StrictMiddlewareFunc{withClientCredentials}))
	return e, nil
}

// publicOperations lists the operations that need no credential, keyed like Echo's routes.
func publicOperations(spec *openapi3.T) map[string]bool {
	public := map[string]bool{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) == 0 {
				public[method+" "+pathParam.ReplaceAllString(path, ":$1")] = true
			}
		}
	}
	return public
}

// pathParam matches an OpenAPI path parameter, {id}, which Echo writes :id.
var pathParam = regexp.MustCompile(`\{([^}]+)\}`)

func isAPIPath(path string) bool {
	return strings.HasPrefix(path, "/api/")
}

// dateTimeFormat accepts what kin-openapi's RFC 3339 pattern accepts and what Go can then
// decode, so that no date-time passes validation only to fail in the handler's binder
// (a leap second "…T23:59:60Z", for example).
var dateTimeFormat = openapi3.NewCallbackValidator(func(v string) error {
	if err := openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringDateTime).Validate(v); err != nil {
		return err
	}
	_, err := time.Parse(time.RFC3339Nano, v)
	return err
})

func (s *Server) logRequest(c echo.Context, v middleware.RequestLoggerValues) error {
	// Only the route template is logged, never the raw URI or any header, so that nothing a
	// client put in a query string or an Authorization header reaches the log.
	attrs := []slog.Attr{
		slog.String("request_id", v.RequestID),
		slog.String("method", v.Method),
		slog.String("route", v.RoutePath),
		slog.Int("status", v.Status),
		slog.Duration("latency", v.Latency),
		slog.String("remote_ip", v.RemoteIP),
	}
	if p, ok := PrincipalFrom(c.Request().Context()); ok {
		attrs = append(attrs, slog.String("account_id", p.AccountID.String()), slog.String("credential", string(p.Kind)))
	}
	s.logger.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
	return nil
}

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "not ready", "error", err)
		return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
