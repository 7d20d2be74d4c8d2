// Code managed by copier-gin: take template improvements with `make update`.

// Package respond writes the service's JSON responses, errors in one shape:
//
//	{"error": {"code": "not_found", "message": "...", "request_id": "..."}}
package respond

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
)

// RequestIDKey is the gin context key holding the request ID.
const RequestIDKey = "request_id"

// ErrorBody is the JSON body of every 4xx and 5xx response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail describes what went wrong.
type ErrorDetail struct {
	Code      string       `json:"code"`
	Message   string       `json:"message"`
	RequestID string       `json:"request_id,omitempty"`
	Fields    []FieldError `json:"fields,omitempty"`
}

// FieldError names one invalid field of a request body.
type FieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

// RequestID returns the ID of the current request.
func RequestID(c *gin.Context) string {
	return c.GetString(RequestIDKey)
}

// Error aborts the request with a JSON error.
func Error(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, RequestID: RequestID(c)}})
}

// BindError answers a request whose body could not be bound: 413 when the body
// is over the size limit, 400 with the failing fields for validation errors,
// 400 for malformed JSON.
func BindError(c *gin.Context, err error) {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		Error(c, http.StatusRequestEntityTooLarge, "body_too_large", "request body is larger than the service accepts")
		return
	}
	var invalid validator.ValidationErrors
	if errors.As(err, &invalid) {
		fields := make([]FieldError, 0, len(invalid))
		for _, fe := range invalid {
			fields = append(fields, FieldError{Field: fe.Field(), Rule: fe.Tag()})
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, ErrorBody{Error: ErrorDetail{
			Code: "invalid_request", Message: "request body failed validation",
			RequestID: RequestID(c), Fields: fields,
		}})
		return
	}
	Error(c, http.StatusBadRequest, "malformed_request", "request body is not valid JSON of the expected shape")
}
