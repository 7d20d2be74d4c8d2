// Code managed by copier-gin: take template improvements with `make update`.

// Package health tracks whether the service should receive traffic.
//
// Liveness never looks at dependencies: a failing database must not make the
// orchestrator restart every replica. Readiness runs the registered checks and
// fails as soon as shutdown starts, so load balancers stop sending new requests.
package health

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Check reports whether one dependency is usable; it must honour ctx's deadline.
type Check func(ctx context.Context) error

// Readiness is the service's readiness state. The zero value is not usable; use New.
type Readiness struct {
	draining atomic.Bool
	timeout  time.Duration

	mu     sync.RWMutex
	checks map[string]Check
}

// Status is the result of a readiness evaluation.
// Checks says "ok" or "failing" per check: the reasons (addresses, names) are for the
// log, never for whoever asked.
type Status struct {
	Ready  bool              `json:"-"`
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
	Errors map[string]error  `json:"-"`
}

// New returns a Readiness whose checks each get at most timeout.
func New(timeout time.Duration) *Readiness {
	return &Readiness{timeout: timeout, checks: map[string]Check{}}
}

// Register adds a named dependency check (a database ping, say).
func (r *Readiness) Register(name string, check Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[name] = check
}

// Drain marks the service as shutting down: readiness fails from now on.
func (r *Readiness) Drain() { r.draining.Store(true) }

// Draining reports whether shutdown has started.
func (r *Readiness) Draining() bool { return r.draining.Load() }

// Evaluate runs every check concurrently and reports the overall readiness.
func (r *Readiness) Evaluate(ctx context.Context) Status {
	if r.Draining() {
		return Status{Ready: false, Status: "shutting_down"}
	}
	r.mu.RLock()
	checks := make(map[string]Check, len(r.checks))
	for name, check := range r.checks {
		checks[name] = check
	}
	r.mu.RUnlock()

	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	results := make(map[string]string, len(checks))
	failures := map[string]error{}
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for name, check := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := check(ctx)
			mu.Lock()
			defer mu.Unlock()
			results[name] = "ok"
			if err != nil {
				results[name] = "failing"
				failures[name] = err
			}
		}()
	}
	wg.Wait()

	st := Status{Ready: true, Status: "ready", Checks: results}
	if len(failures) > 0 {
		st.Ready, st.Status, st.Errors = false, "unavailable", failures
	}
	return st
}
