package ddbsim

import (
	"context"
	"fmt"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// The input of a call is only a Go value in the Initialize step; the steps
// after serialization see an HTTP request. inputStash keeps it in the call's
// context for the middlewares that run per attempt (after the retryer).
const inputStashID = "ddbsim-input"

type inputKey struct{}

// addInputStash adds the stash once, whether the Meter, Conflicts or both
// are on the client.
func addInputStash(s *middleware.Stack) error {
	if _, ok := s.Initialize.Get(inputStashID); ok {
		return nil
	}
	err := s.Initialize.Add(middleware.InitializeMiddlewareFunc(inputStashID, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		return next.HandleInitialize(middleware.WithStackValue(ctx, inputKey{}, in.Parameters), in)
	}), middleware.Before)
	if err != nil {
		return fmt.Errorf("ddbsim: add input stash: %w", err)
	}
	return nil
}

// inputOf returns the input of the call ctx belongs to (nil outside one).
func inputOf(ctx context.Context) any { return middleware.GetStackValue(ctx, inputKey{}) }

// asServiceError wraps an error made up here the way the SDK wraps an error
// DynamoDB returns (an HTTP 400 response error with a request id), so that
// the retryer and the caller see the same shape as from a real response.
func asServiceError(err error) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusBadRequest, Header: http.Header{}}},
			Err:      err,
		},
		RequestID: "ddbsim",
	}
}
