package main

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/hzel/hzel/gen/api"
)

// apiError is a call the API answered with something other than success.
type apiError struct {
	Status int
	// Code and Message come from the API's error envelope. Code is empty when the body was
	// not the envelope (a proxy's error page, an empty body); Message is then the HTTP
	// status text.
	Code    api.ErrorCode
	Message string
}

func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%d %s (not a response from the hzel API)", e.Status, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// decodeAPIError reads the error envelope ({"error": {"code", "message"}}) from the status
// and body of a response that is not the expected success.
func decodeAPIError(status int, body []byte) *apiError {
	e := &apiError{Status: status, Message: http.StatusText(status)}
	if e.Message == "" {
		e.Message = "unexpected HTTP status"
	}
	var env api.ErrorEnvelope
	if json.Unmarshal(body, &env) == nil && env.Error.Code != "" {
		e.Code = env.Error.Code
		if env.Error.Message != "" {
			e.Message = env.Error.Message
		}
	}
	return e
}
