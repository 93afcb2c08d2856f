package server

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"

	"github.com/hzel/hzel/gen/api"
)

// apiError is a failure that the client is meant to see, with the status and code it gets.
type apiError struct {
	status  int
	code    api.ErrorCode
	message string
	// challenge is the WWW-Authenticate value of a 401.
	challenge string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

// oauthTokenPath is the OAuth token endpoint, whose errors have their own format.
const oauthTokenPath = "/api/v1/oauth/token"

const (
	challengeNoToken      = `Bearer realm="hzel"`
	challengeInvalidToken = `Bearer realm="hzel", error="invalid_token"`
)

var (
	errNoCredentials = &apiError{http.StatusUnauthorized, api.CodeUnauthorized,
		"missing credentials: send Authorization: Bearer <token>", challengeNoToken}
	errNotBearer = &apiError{http.StatusUnauthorized, api.CodeUnauthorized,
		"unsupported authorization scheme: send Authorization: Bearer <token>", challengeNoToken}
	errManyCredentials = &apiError{http.StatusUnauthorized, api.CodeUnauthorized,
		"send exactly one Authorization header", challengeNoToken}
	errInvalidToken = &apiError{http.StatusUnauthorized, api.CodeUnauthorized,
		"invalid, expired or revoked token", challengeInvalidToken}
	errInvalidSession = &apiError{http.StatusUnauthorized, api.CodeUnauthorized,
		"invalid or expired session: log in again", challengeNoToken}
	errCSRF = &apiError{status: http.StatusForbidden, code: api.CodeCSRFRejected,
		message: "missing or wrong x-csrf-token: send the session's csrf_token with every POST, PATCH, PUT and DELETE"}
	errInternal = &apiError{status: http.StatusInternalServerError, code: api.CodeInternalError,
		message: "internal error"}
)

func badRequest(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: api.CodeBadRequest, message: fmt.Sprintf(format, args...)}
}

func validationFailed(format string, args ...any) *apiError {
	return &apiError{status: http.StatusBadRequest, code: api.CodeValidationFailed, message: fmt.Sprintf(format, args...)}
}

func envelope(code api.ErrorCode, message string) api.ErrorEnvelope {
	return api.ErrorEnvelope{Error: api.ErrorDetail{Code: code, Message: message}}
}

// handleError is Echo's HTTPErrorHandler: the one place where every failure, whatever raised
// it, becomes the error envelope. Internal details are logged with the request id and never
// sent.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	e := s.classify(err)
	if e.status >= http.StatusInternalServerError {
		s.logger.ErrorContext(c.Request().Context(), "request failed",
			"request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "route", c.Path(), "error", err)
	}
	if e.challenge != "" {
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, e.challenge)
	}
	switch {
	case c.Request().Method == http.MethodHead:
		err = c.NoContent(e.status)
	case c.Path() == oauthTokenPath && e.status == http.StatusBadRequest:
		// OAuth clients expect RFC 6749 §5.2 errors from the token endpoint, not the envelope.
		err = c.JSON(e.status, api.OAuthError{Error: api.OAuthInvalidRequest, ErrorDescription: &e.message})
	default:
		err = c.JSON(e.status, envelope(e.code, e.message))
	}
	if err != nil {
		s.logger.ErrorContext(c.Request().Context(), "write error response", "error", err)
	}
}

func (s *Server) classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var he *echo.HTTPError
	if !errors.As(err, &he) {
		return errInternal
	}
	switch he.Code {
	case http.StatusNotFound:
		return &apiError{status: he.Code, code: api.CodeNotFound, message: "no such route"}
	case http.StatusMethodNotAllowed:
		return &apiError{status: he.Code, code: api.CodeMethodNotAllowed, message: "method not allowed on this route"}
	case http.StatusRequestEntityTooLarge:
		return errTooLarge
	case http.StatusBadRequest:
		// The binder's errors: the validator has already vetted the body, so these are rare,
		// and their text describes the client's input, not our internals.
		return badRequest("malformed request: %v", he.Message)
	}
	if he.Code >= 400 && he.Code < 500 {
		return &apiError{status: he.Code, code: api.CodeBadRequest, message: strings.ToLower(http.StatusText(he.Code))}
	}
	return errInternal
}

var errTooLarge = &apiError{status: http.StatusRequestEntityTooLarge, code: api.CodePayloadTooLarge,
	message: fmt.Sprintf("request body is over %d KiB", maxBodyBytes/1024)}

// validationError turns what the kin-openapi validator reports into the envelope's terms:
// BAD_REQUEST when the request cannot be read at all, VALIDATION_FAILED naming the field
// when it can be read but breaks a rule of the spec.
func validationError(_ echo.Context, he *echo.HTTPError) error {
	var tooLarge *echo.HTTPError
	if errors.As(he.Internal, &tooLarge) && tooLarge.Code == http.StatusRequestEntityTooLarge {
		return errTooLarge
	}
	var re *openapi3filter.RequestError
	if !errors.As(he.Internal, &re) {
		return he
	}
	if re.Parameter != nil {
		return validationFailed("%s parameter %q: %s", re.Parameter.In, re.Parameter.Name, parameterReason(re))
	}
	var se *openapi3.SchemaError
	switch {
	case errors.As(re.Err, &se):
		return validationFailed("%s", schemaReason(se))
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return badRequest("request body is required: a JSON object")
	case strings.HasPrefix(re.Reason, "header Content-Type has unexpected value"):
		return badRequest("Content-Type must be application/json")
	case re.Err != nil:
		var pe *openapi3filter.ParseError
		if errors.As(re.Err, &pe) {
			return badRequest("request body is not valid JSON")
		}
	}
	return badRequest("malformed request: %s", re.Reason)
}

func parameterReason(re *openapi3filter.RequestError) string {
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) && se.SchemaField == "format" && se.Schema != nil && se.Schema.Format == "uuid" {
		return "must be a UUID"
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		return "is malformed"
	}
	if se != nil {
		return se.Reason
	}
	return re.Reason
}

// schemaReason says which field broke which rule, in words a person can act on.
func schemaReason(se *openapi3.SchemaError) string {
	field := strings.Join(se.JSONPointer(), ".")
	switch se.SchemaField {
	case "required":
		return field + ": is required"
	case "nullable":
		return field + ": must not be null"
	case "properties":
		// An unknown member under additionalProperties: false; kin-openapi names it only in
		// its reason: property "x" is unsupported.
		if !strings.HasSuffix(se.Reason, "is unsupported") {
			break
		}
		_, rest, _ := strings.Cut(se.Reason, `"`)
		name, _, _ := strings.Cut(rest, `"`)
		allowed := slices.Sorted(maps.Keys(se.Schema.Properties))
		return fmt.Sprintf("%s: unknown field (allowed: %s)", name, strings.Join(allowed, ", "))
	case "format":
		if se.Schema != nil && se.Schema.Format == "date-time" {
			return field + ": must be an RFC 3339 date-time such as 2027-01-01T00:00:00Z"
		}
	case "type":
		if field == "" {
			return "request body must be a JSON object"
		}
		if se.Schema != nil && se.Schema.Type != nil {
			return fmt.Sprintf("%s: must be a %s", field, strings.Join(se.Schema.Type.Slice(), " or "))
		}
	}
	if field == "" {
		return se.Reason
	}
	return field + ": " + se.Reason
}
