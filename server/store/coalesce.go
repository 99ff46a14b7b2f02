package store

import (
	"context"
	"sync"
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
	return g.wait(ctx)
}

// doDetached is do with fn always run on a goroutine of its own, so every
// caller, the one that started the run too, can give up when its context
// ends: for a call into a file system that may hang, which then holds that
// goroutine, not the requests waiting on it.
func (g *group[T]) doDetached(ctx context.Context, fn func() (T, error)) (T, error) {
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
		return r.result(ctx)
	}
	return g.wait(ctx)
}

// wait waits for the run after the one under way.
func (g *group[T]) wait(ctx context.Context) (T, error) {
	r := g.next
	if r == nil {
		r = &round[T]{done: make(chan struct{})}
		g.next = r
	}
	g.mu.Unlock()
	return r.result(ctx)
}

// result waits for the round to end, or for ctx.
func (r *round[T]) result(ctx context.Context) (T, error) {
	select {
	case <-r.done:
		return r.val, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

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
