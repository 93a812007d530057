package notify

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBarInBrowser renders emails in Debian's chromium at 600 and 360 px and reads where the send
// day's cell sits on the bar: at the fraction its date gives (issue 20). Skipped without chromium,
// except under CI.
func TestBarInBrowser(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser tests (.ci/run installs it)")
		}
		t.Skip("browser test skipped: chromium is not installed (apt-get install -y chromium)")
	}
	r := testRenderer(t)
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
	type pos struct{ Left, Width, Mark float64 }
	for _, w := range []int64{600, 360} {
		for _, c := range cases {
			if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, 800), chromedp.Navigate(srv.URL+"/"+c.name), chromedp.WaitReady("table.renewal-bar")); err != nil {
				t.Fatal(err)
			}
			p, err := chromedp.Run(ctx, chromedp.Evaluate[pos](`(() => {
				const row = document.querySelector('table.renewal-bar tr').getBoundingClientRect();
				const m = document.querySelector('td.bar-sent').getBoundingClientRect();
				return {Left: row.left, Width: row.width, Mark: m.left + m.width / 2};
			})()`))
			if err != nil {
				t.Fatal(err)
			}
			got := (p.Mark - p.Left) / p.Width
			if math.Abs(got-c.want)*p.Width > 1.5 {
				t.Errorf("%dpx, %s: the send day sits at %.4f of the bar (%.1fpx), want %.4f (%.1fpx)", w, c.name, got, got*p.Width, c.want, c.want*p.Width)
			}
		}
	}
}
