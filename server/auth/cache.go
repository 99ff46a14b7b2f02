package auth

import (
	"sync"
)

// cacheSize bounds the remembered credentials. Only successful checks are
// remembered, so only holders of valid credentials can fill it, and a few
// hundred users with a token or two each fit.
const cacheSize = 1024

// cacheKey is the HMAC-SHA256 of a user and password under the process's
// random key: equal for equal credentials, useless without the key.
type cacheKey [32]byte

// cache remembers credentials that passed verification against one content
// of the file. It belongs to that content's table, so a changed file starts
// with an empty cache and a removed user or changed password cannot be let
// in from memory.
type cache struct {
	mu   sync.RWMutex
	keys map[cacheKey]struct{}
}

func newCache() *cache { return &cache{keys: make(map[cacheKey]struct{})} }

func (c *cache) has(k cacheKey) bool {
	c.mu.RLock()
	_, ok := c.keys[k]
	c.mu.RUnlock()
	return ok
}

// add remembers k; when full, it forgets an arbitrary key (map order is
// random), which costs one slow verification at worst.
func (c *cache) add(k cacheKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.keys) >= cacheSize {
		for old := range c.keys {
			delete(c.keys, old)
			break
		}
	}
	c.keys[k] = struct{}{}
}
