package upstream

import "sync"

// group runs one call per key at a time; callers that come while it runs
// share its result. Unlike a cache it keeps nothing once the call returns.
type group[T any] struct {
	mu    sync.Mutex
	calls map[string]*call[T]
}

type call[T any] struct {
	done  chan struct{}
	val   T
	state string
	err   error
}

func (g *group[T]) do(key string, fn func() (T, string, error)) (T, string, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = map[string]*call[T]{}
	}
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		<-c.done
		return c.val, c.state, c.err
	}
	c := &call[T]{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()
	c.val, c.state, c.err = fn()
	g.mu.Lock()
	delete(g.calls, key)
	g.mu.Unlock()
	close(c.done)
	return c.val, c.state, c.err
}
