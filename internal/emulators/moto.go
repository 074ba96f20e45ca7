package emulators

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// MotoOptions configures StartMoto. The zero value runs moto_server on a free
// port.
type MotoOptions struct {
	// Port to listen on; 0 picks a free one.
	Port int

	// LogDir receives moto-PORT.log with the server's output. When empty a
	// new temporary directory is used.
	LogDir string

	// StartTimeout bounds the wait for the first answer to GET /; 0 means
	// DefaultStartTimeout (60s).
	StartTimeout time.Duration
}

// StartMoto starts `moto_server -H 127.0.0.1 -p PORT` (one endpoint for every
// AWS service moto emulates; Accrue uses SQS and EventBridge) and returns once
// it answers HTTP. Call Stop on the result when done.
func StartMoto(ctx context.Context, opts MotoOptions) (*Server, error) {
	moto, err := lookPath("moto_server", "install it with pip install 'moto[server]'")
	if err != nil {
		return nil, err
	}
	return start(ctx, spec{
		name:    "moto",
		logName: "moto",
		logDir:  opts.LogDir,
		port:    opts.Port,
		timeout: opts.StartTimeout,
		command: func(port int) (string, []string, []string) {
			return moto, []string{"-H", "127.0.0.1", "-p", fmt.Sprint(port)}, nil
		},
		ready: httpReady,
	})
}

// httpReady succeeds when GET endpoint/ gets any HTTP answer.
func httpReady(ctx context.Context, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return nil
}
