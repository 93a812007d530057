// Package pgtest gives tests a fresh PostgreSQL database of their own on the server named by
// RENEWALD_TEST_POSTGRES_DSN (scripts/pg-test-cluster.sh starts a throw-away one). Without it a
// test that needs PostgreSQL is skipped with a message; when CI is set, it fails instead, so CI
// never silently tests one engine only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding the DSN of a PostgreSQL server where tests may create databases.
const EnvDSN = "RENEWALD_TEST_POSTGRES_DSN"

// Available reports whether a test server is configured.
func Available() bool { return os.Getenv(EnvDSN) != "" }

// Require skips tb when no test server is configured, or fails it when CI is set.
func Require(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvDSN)
	if admin != "" {
		return admin
	}
	if os.Getenv("CI") != "" {
		tb.Fatalf("CI is set but %s is not: CI must test the PostgreSQL engine (see scripts/pg-test-cluster.sh)", EnvDSN)
	}
	tb.Skipf("PostgreSQL half skipped: set %s (eval \"$(bash scripts/pg-test-cluster.sh start)\") to run it", EnvDSN)
	return ""
}

// DSN creates an empty database on the test server, drops it when tb ends, and returns its DSN.
func DSN(tb testing.TB) string {
	tb.Helper()
	admin := Require(tb)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	name := "renewald_test_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("pgtest: connect to %s: %v", EnvDSN, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
		}
	})
	return WithDatabase(admin, name)
}

// WithDatabase returns dsn naming database name instead of its own.
func WithDatabase(dsn, name string) string {
	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		u.Path = "/" + name
		return u.String()
	}
	return strings.TrimSpace(dsn) + fmt.Sprintf(" dbname=%s", name)
}
