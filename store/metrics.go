package store

import (
	"encoding/json"
	"strconv"
)

// decodeMetrics decodes one stored path of capability scores, a JSON object of metric → points as
// metricsJSON wrote it. The loop reads the compact form ({"name":12,...}, whitespace allowed, as
// PostgreSQL may return it) without reflection; anything else (escapes, non-ASCII names, other
// number forms, null) goes to encoding/json, so the result is always encoding/json's
// (FuzzDecodeMetrics). The status pages judge thousands of partners a page from these.
func decodeMetrics(s string) (map[string]int, error) {
	if m, ok := decodeMetricsFast(s); ok {
		return m, nil
	}
	var m map[string]int
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeMetricsFast(s string) (map[string]int, bool) {
	i := 0
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	space()
	if i == len(s) || s[i] != '{' {
		return nil, false
	}
	i++
	m := map[string]int{}
	space()
	if i < len(s) && s[i] == '}' {
		i++
		space()
		return m, i == len(s)
	}
	for {
		space()
		if i == len(s) || s[i] != '"' {
			return nil, false
		}
		i++
		start := i
		for i < len(s) && s[i] != '"' {
			if c := s[i]; c < 0x20 || c >= 0x80 || c == '\\' {
				return nil, false
			}
			i++
		}
		if i == len(s) {
			return nil, false
		}
		key := s[start:i]
		i++
		space()
		if i == len(s) || s[i] != ':' {
			return nil, false
		}
		i++
		space()
		start = i
		if i < len(s) && s[i] == '-' {
			i++
		}
		digits := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == digits || (s[digits] == '0' && i-digits > 1) {
			return nil, false
		}
		v, err := strconv.Atoi(s[start:i])
		if err != nil {
			return nil, false
		}
		m[key] = v
		space()
		if i == len(s) {
			return nil, false
		}
		switch s[i] {
		case ',':
			i++
		case '}':
			i++
			space()
			return m, i == len(s)
		default:
			return nil, false
		}
	}
}
