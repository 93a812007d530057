package importer

import (
	"errors"
	"strings"
	"testing"
)

// TestScoresAsOf (issue 26): a capability_scores entry's as_of is the day its scores describe; one
// without it leaves the day to the store (the import's day); a bad date is refused with its place.
func TestScoresAsOf(t *testing.T) {
	p := write(t, "p.json", `{"partners": [{"id": "1", "name": "A", "capability_scores": [
		{"designation": "Security", "enterprise": {"performance": 3}, "as_of": "2026-01-05"},
		{"designation": "Modern Work", "smb": {"performance": 3}}]}]}`)
	ds, err := im().Files(p)
	if err != nil {
		t.Fatal(err)
	}
	sc := ds.Partners[0].Scores
	if len(sc) != 2 || sc[0].AsOf.String() != "2026-01-05" || !sc[1].AsOf.IsZero() {
		t.Errorf("scores %+v", sc)
	}
	bad := write(t, "p.json", `{"partners": [{"id": "1", "name": "A", "capability_scores": [
		{"designation": "Security", "enterprise": {"performance": 3}, "as_of": "5 Jan 2026"}]}]}`)
	if _, err := im().Files(bad); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "capability_scores[0]") || !strings.Contains(err.Error(), "as_of") {
		t.Errorf("bad as_of: %v", err)
	}
}
