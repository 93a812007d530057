// Package httpserve runs an http.Server on a listener for as long as a context lasts: the one
// serve-and-shut-down loop of the metrics endpoint and the status pages.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout bounds how long requests in flight may finish once the context ends.
const ShutdownTimeout = 5 * time.Second

// Run serves srv on l until ctx ends, then shuts srv down (letting requests in flight finish, for
// ShutdownTimeout at most). The channel receives Serve's error once it returns: nil after a shutdown.
func Run(ctx context.Context, srv *http.Server, l net.Listener) <-chan error {
	ch := make(chan error, 1)
	go func() {
		err := srv.Serve(l)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		ch <- err
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	return ch
}
