package store

import (
	"encoding/json"
	"maps"
	"testing"
)

func TestDecodeMetrics(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]int
		ok   bool
	}{
		{`{"customer_success":10,"performance":40}`, map[string]int{"customer_success": 10, "performance": 40}, true},
		{` { "a" : -0 , "b": 7 } `, map[string]int{"a": 0, "b": 7}, true},
		{`{}`, map[string]int{}, true},
		{`{"\u003cb\u003e":1}`, map[string]int{"<b>": 1}, true}, // escapes: encoding/json
		{`{"a":1,"a":2}`, map[string]int{"a": 2}, true},
		{`{"a":01}`, nil, false},
		{`{"a":1.5}`, nil, false},
		{`{"a":1}x`, nil, false},
		{`{"a":99999999999999999999}`, nil, false},
		{`{"a":1,}`, nil, false},
		{``, nil, false},
	} {
		got, err := decodeMetrics(tc.in)
		if (err == nil) != tc.ok || !maps.Equal(got, tc.want) {
			t.Errorf("decodeMetrics(%q) = %v, %v; want %v (ok %v)", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzDecodeMetrics: decodeMetrics gives what encoding/json gives, for any input.
func FuzzDecodeMetrics(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":-2}`, `{}`, ` {"x" : 0 }`, `null`, `{"a":1e2}`, `{"é":1}`, `{"a":"1"}`, `[1]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want map[string]int
		wantErr := json.Unmarshal([]byte(s), &want)
		got, err := decodeMetrics(s)
		if (err == nil) != (wantErr == nil) || (err == nil && !maps.Equal(got, want)) {
			t.Fatalf("decodeMetrics(%q) = %v, %v; encoding/json gives %v, %v", s, got, err, want, wantErr)
		}
	})
}
