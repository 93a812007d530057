package notify

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBarInBrowser renders emails in Debian's chromium at 800 and 390 px and reads where the send
// day's cell sits on the bar: over the fraction its date gives (issue 20), at least 8 px wide, with
// its label in words starting or ending at it (issue 26); and the Partner Center button within the
// first screen of a 390 × 844 phone. Skipped without chromium, except under CI.
func TestBarInBrowser(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser tests (.ci/run installs it)")
		}
		t.Skip("browser test skipped: chromium is not installed (apt-get install -y chromium)")
	}
	r := mailRenderer(t)
	// Kubernetes attained 2022-05-20: anniversary 2024-05-20, window 2024-03-21, grace to 2024-06-19.
	// Before the window the bar starts at the −120 reminder (151 days); from the window on it is the
	// 91 days from window open to grace end.
	cases := []struct {
		name         string
		offset, late int
		want         float64
	}{
		{"-120", -120, 0, 0.5 / 151}, {"-60", -60, 0, 0.5 / 91}, {"-30", -30, 0, 30.5 / 91},
		{"0", 0, 0, 60.5 / 91}, {"+30", 30, 0, 90.5 / 91}, {"-60, 5 days late", -60, 5, 5.5 / 91},
	}
	var mu sync.Mutex
	html := map[string]string{}
	for _, c := range cases {
		rem := reminder(t, "Kubernetes on Microsoft Azure", "2022-05-20", 2, c.offset, nil)
		out, err := r.Render(rem, rem.Milestone.DueOn.AddDays(c.late).Time(time.UTC).Add(6*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		html["/"+c.name] = out.HTML
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(html[req.URL.Path]))
	}))
	defer srv.Close()
	actx, cancel := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path), chromedp.Flag("headless", "new"),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	type pos struct {
		Left, Width, MarkLeft, MarkRight, AnnLeft, AnnRight, LabelLeft, LabelRight, Button float64
		Label, AnnLabel                                                                    string
	}
	for _, w := range []int64{800, 390} {
		for _, c := range cases {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 844), chromedp.Navigate(srv.URL+"/"+c.name), chromedp.WaitReady("table.renewal-bar")); err != nil {
				t.Fatal(err)
			}
			p, err := chromedp.Run(ctx, chromedp.Evaluate[pos](`(() => {
				const row = document.querySelector('table.renewal-bar tr').getBoundingClientRect();
				const m = document.querySelector('td.bar-sent').getBoundingClientRect();
				const a = document.querySelector('td.bar-anniversary');
				const ar = a ? a.getBoundingClientRect() : {left: 0, right: 0};
				const labels = document.querySelectorAll('table.bar-label td[align]');
				const l = labels[0].getBoundingClientRect();
				const b = document.querySelector('a[href^="https://partner.microsoft.com"]');
				return {Left: row.left, Width: row.width, MarkLeft: m.left, MarkRight: m.right, AnnLeft: ar.left, AnnRight: ar.right,
					LabelLeft: l.left, LabelRight: l.right, Button: b ? b.getBoundingClientRect().bottom : -1,
					Label: labels[0].textContent, AnnLabel: labels.length > 1 ? labels[1].textContent : ''};
			})()`))
			if err != nil {
				t.Fatal(err)
			}
			want := p.Left + c.want*p.Width
			if want < p.MarkLeft-1.5 || want > p.MarkRight+1.5 {
				t.Errorf("%dpx, %s: the send day (%.1fpx) is not under its marker (%.1f..%.1fpx)", w, c.name, want-p.Left, p.MarkLeft-p.Left, p.MarkRight-p.Left)
			}
			if w == 390 && (p.MarkRight-p.MarkLeft < 8 || (p.AnnRight > 0 && p.AnnRight-p.AnnLeft < 8)) {
				t.Errorf("390px, %s: markers %.1f and %.1f px wide, want at least 8", c.name, p.MarkRight-p.MarkLeft, p.AnnRight-p.AnnLeft)
			}
			if !strings.Contains(p.Label, "today") || (p.AnnRight > 0 && !strings.Contains(p.AnnLabel, "anniversary")) {
				t.Errorf("%dpx, %s: labels %q, %q", w, c.name, p.Label, p.AnnLabel)
			}
			if math.Abs(p.LabelLeft-p.MarkLeft) > 1.5 && math.Abs(p.LabelRight-p.MarkRight) > 1.5 {
				t.Errorf("%dpx, %s: the label (%.1f..%.1f) does not start or end at the marker (%.1f..%.1f)", w, c.name, p.LabelLeft, p.LabelRight, p.MarkLeft, p.MarkRight)
			}
			if w == 390 && (p.Button < 0 || p.Button > 844) {
				t.Errorf("390px, %s: the Partner Center button ends at %.0fpx, below the first screen (844)", c.name, p.Button)
			}
		}
	}
}
