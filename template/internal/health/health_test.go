// Code managed by copier-gin: take template improvements with `make update`.

package health

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestReadinessWithoutChecksIsReady(t *testing.T) {
	st := New(time.Second).Evaluate(context.Background())
	if !st.Ready || st.Status != "ready" {
		t.Fatalf("got %+v, want ready", st)
	}
}

func TestFailingCheckMakesNotReady(t *testing.T) {
	r := New(time.Second)
	r.Register("db", func(context.Context) error { return nil })
	r.Register("cache", func(context.Context) error { return errors.New("connection refused") })
	st := r.Evaluate(context.Background())
	if st.Ready || st.Status != "unavailable" {
		t.Fatalf("got %+v, want unavailable", st)
	}
	// The public answer says which check fails, never why: the reason is for the log.
	if st.Checks["db"] != "ok" || st.Checks["cache"] != "failing" {
		t.Fatalf("checks = %v", st.Checks)
	}
	if err := st.Errors["cache"]; err == nil || err.Error() != "connection refused" {
		t.Fatalf("errors = %v, want the cache's reason", st.Errors)
	}
	if _, ok := st.Errors["db"]; ok {
		t.Fatalf("errors = %v, want only the failing check", st.Errors)
	}
}

func TestSlowCheckIsBoundedByTimeout(t *testing.T) {
	r := New(50 * time.Millisecond)
	r.Register("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
	start := time.Now()
	st := r.Evaluate(context.Background())
	if st.Ready {
		t.Fatal("a check that timed out must make the service not ready")
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("evaluation took %s, want about the 50ms timeout", elapsed)
	}
}

func TestDrainFailsReadiness(t *testing.T) {
	r := New(time.Second)
	r.Drain()
	st := r.Evaluate(context.Background())
	if st.Ready || st.Status != "shutting_down" {
		t.Fatalf("got %+v, want shutting_down", st)
	}
}
