package store

import (
	"testing"
	"time"
)

func TestHistogram(t *testing.T) {
	var h Histogram
	for _, d := range []time.Duration{
		50 * time.Microsecond,  // below the first bound
		100 * time.Microsecond, // at a bound: counted in it (le)
		101 * time.Microsecond,
		3 * time.Millisecond,
		time.Minute, // above every bound
	} {
		h.Observe(d)
	}
	n, sum, cum := h.Read()
	if n != 5 {
		t.Errorf("count %d, want 5", n)
	}
	if want := (60*time.Second + 3*time.Millisecond + 251*time.Microsecond).Seconds(); sum != want {
		t.Errorf("sum %v, want %v", sum, want)
	}
	for _, tc := range []struct {
		le   float64
		want uint64
	}{
		{0.0001, 2}, {0.00025, 3}, {0.0025, 3}, {0.005, 4}, {10, 4},
	} {
		if cum[tc.le] != tc.want {
			t.Errorf("le %v: %d, want %d", tc.le, cum[tc.le], tc.want)
		}
	}
}
