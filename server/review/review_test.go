package review

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAnswers feeds Review the answers an API server may give; the real
// API server's are in test/process.
func TestAnswers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		code   int
		answer string
		want   error
		acct   string
	}{
		{"service account", 201, `{"status":{"authenticated":true,"user":{"username":"system:serviceaccount:ci:builder"},"audiences":["pkgindex"]}}`, nil, "system:serviceaccount:ci:builder"},
		{"not authenticated", 201, `{"status":{"authenticated":false,"error":"invalid bearer token"}}`, ErrRejected, ""},
		{"audience ignored", 201, `{"status":{"authenticated":true,"user":{"username":"system:serviceaccount:ci:builder"}}}`, ErrRejected, ""},
		{"a user, not an account", 201, `{"status":{"authenticated":true,"user":{"username":"alice"},"audiences":["pkgindex"]}}`, ErrRejected, ""},
		{"reviewer not allowed", 403, `{"kind":"Status","message":"forbidden"}`, ErrUnavailable, ""},
		{"garbage", 201, `<html>`, ErrUnavailable, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				if r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" || !strings.Contains(string(body), `"audiences":["pkgindex"]`) {
					t.Errorf("asked %s with %s", r.URL.Path, body)
				}
				w.WriteHeader(tc.code)
				io.WriteString(w, tc.answer)
			}))
			defer api.Close()
			acct, err := (&Reviewer{URL: api.URL, Client: api.Client()}).Review(context.Background(), "a.b.c", "pkgindex")
			if !errors.Is(err, tc.want) || acct.Name != tc.acct {
				t.Errorf("Review = %+v, %v; want %q, %v", acct, err, tc.acct, tc.want)
			}
		})
	}
	// An accepted token is remembered for a few seconds; a refused one is
	// asked about again.
	var asked int
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked++
		body, _ := io.ReadAll(r.Body)
		if strings.Contains(string(body), "good") {
			io.WriteString(w, `{"status":{"authenticated":true,"user":{"username":"system:serviceaccount:ci:b"},"audiences":["pkgindex"]}}`)
			return
		}
		io.WriteString(w, `{"status":{"authenticated":false}}`)
	}))
	defer api.Close()
	rv := &Reviewer{URL: api.URL, Client: api.Client()}
	for range 3 {
		rv.Review(context.Background(), "good", "pkgindex")
		rv.Review(context.Background(), "bad", "pkgindex")
	}
	if asked != 4 {
		t.Errorf("the API server was asked %d times for 3 reviews of an accepted and 3 of a refused token, want 1 + 3", asked)
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if _, err := (&Reviewer{URL: down.URL, Client: http.DefaultClient}).Review(context.Background(), "a.b.c", "pkgindex"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("API server down: %v, want ErrUnavailable", err)
	}
}
