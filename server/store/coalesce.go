package store

import (
	"context"
	"errors"
	"sync"
	"time"
)

// group runs one piece of work for many callers so that each caller gets
// the result of a run that started after the caller asked. Callers that
// arrive while a run is under way wait for the next run, and one run serves
// all of them: under load, a directory check or a file hash is done once
// per round instead of once per request, without ever handing a caller an
// answer computed before it arrived.
type group[T any] struct {
	mu      sync.Mutex
	running bool
	next    *round[T]
}

type round[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// do runs fn, or waits for the next run of fn by another caller. All
// callers of one group must pass equivalent functions. The caller that
// finds the group idle runs fn itself; one that comes meanwhile waits for
// the next run, and can give up when its context ends.
func (g *group[T]) do(ctx context.Context, fn func() (T, error)) (T, error) {
	g.mu.Lock()
	if !g.running {
		g.running = true
		g.mu.Unlock()
		v, err := fn()
		g.handOff(fn)
		return v, err
	}
	return g.wait(ctx, 0)
}

// doDetached is do with fn always run on a goroutine of its own, so every
// caller, the one that started the run too, can give up when its context
// ends or, when timeout is above zero, once timeout has passed (with
// errGaveUp): for a call into a file system that may hang, which then
// holds that goroutine, not the requests waiting on it. The timeout costs
// a pooled timer instead of a context, as every request checks a
// directory this way.
func (g *group[T]) doDetached(ctx context.Context, timeout time.Duration, fn func() (T, error)) (T, error) {
	g.mu.Lock()
	if !g.running {
		g.running = true
		r := &round[T]{done: make(chan struct{})}
		g.mu.Unlock()
		go func() {
			r.val, r.err = fn()
			close(r.done)
			g.handOff(fn)
		}()
		return r.result(ctx, timeout)
	}
	return g.wait(ctx, timeout)
}

// errGaveUp is a caller's timeout in doDetached.
var errGaveUp = errors.New("gave up waiting")

// wait waits for the run after the one under way.
func (g *group[T]) wait(ctx context.Context, timeout time.Duration) (T, error) {
	r := g.next
	if r == nil {
		r = &round[T]{done: make(chan struct{})}
		g.next = r
	}
	g.mu.Unlock()
	return r.result(ctx, timeout)
}

// result waits for the round to end, for ctx, or for timeout when it is
// above zero.
func (r *round[T]) result(ctx context.Context, timeout time.Duration) (T, error) {
	var zero T
	if timeout <= 0 {
		select {
		case <-r.done:
			return r.val, r.err
		case <-ctx.Done():
			return zero, ctx.Err()
		}
	}
	t := timers.Get().(*time.Timer)
	t.Reset(timeout)
	defer func() {
		t.Stop()
		timers.Put(t)
	}()
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	case <-t.C:
		return zero, errGaveUp
	}
}

// timers are stopped timers for result. Since Go 1.23 a stopped timer's
// channel holds nothing, so one can be reset and reused as it is.
var timers = sync.Pool{New: func() any {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return t
}}

// handOff starts the round that callers queued during the run that just
// finished, or marks the group idle.
func (g *group[T]) handOff(fn func() (T, error)) {
	g.mu.Lock()
	r := g.next
	if r == nil {
		g.running = false
		g.mu.Unlock()
		return
	}
	g.next = nil
	g.mu.Unlock()
	go func() {
		r.val, r.err = fn()
		close(r.done)
		g.handOff(fn)
	}()
}

// keyedGroup is a group per key, made when a key is first asked for and
// dropped when its last caller leaves, so keys that are never busy (most
// files, most of the time) cost nothing.
type keyedGroup[K comparable, T any] struct {
	mu     sync.Mutex
	groups map[K]*keyedEntry[T]
}

type keyedEntry[T any] struct {
	g     group[T]
	users int
}

// do runs fn for key k as group.do does.
func (kg *keyedGroup[K, T]) do(ctx context.Context, k K, fn func() (T, error)) (T, error) {
	kg.mu.Lock()
	if kg.groups == nil {
		kg.groups = map[K]*keyedEntry[T]{}
	}
	e := kg.groups[k]
	if e == nil {
		e = &keyedEntry[T]{}
		kg.groups[k] = e
	}
	e.users++
	kg.mu.Unlock()
	defer func() {
		kg.mu.Lock()
		if e.users--; e.users == 0 {
			delete(kg.groups, k)
		}
		kg.mu.Unlock()
	}()
	return e.g.do(ctx, fn)
}
