package server

import "net/http"

// securityHeaders marks every response as not to be content-sniffed: the
// index serves files uploaded by others, which must never run as a page.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()["X-Content-Type-Options"] = nosniff
		next.ServeHTTP(w, r)
	})
}

// nosniff is the header's value, shared by every response rather than made
// for each: header values are only ever replaced, never changed in place.
var nosniff = []string{"nosniff"}
