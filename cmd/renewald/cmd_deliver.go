package main

import (
	"context"
	"fmt"
)

// cmdDeliver delivers what is due once.
func (m *Main) cmdDeliver(ctx context.Context, args []string) error {
	if _, err := parseFlags(m.newFlagSet("deliver"), args); err != nil {
		return err
	}
	a, err := m.loadApp(ctx, false)
	if err != nil {
		return err
	}
	defer a.Close()
	d, err := m.deliverer(a)
	if err != nil {
		return err
	}
	st, err := d.Deliver(ctx)
	fmt.Fprintf(m.Stdout, "delivered %d, retrying %d, failed %d, released %d\n", st.Sent, st.Retried, st.Failed, st.Released)
	return err
}
