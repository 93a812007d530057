package web

import (
	"context"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// browser returns a headless Debian chromium, or skips the test when it is not installed (CI, which
// installs it, fails instead).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed, and CI must run the browser tests (.ci/run installs it)")
		}
		t.Skip("browser tests skipped: chromium is not installed (apt-get install -y chromium)")
	}
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(path), chromedp.Flag("headless", "new"), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true)}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(cancel3)
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx
}

// problems collects console errors, exceptions and failed requests of a tab.
type problems struct {
	mu   sync.Mutex
	list []string
}

func (p *problems) add(s string) { p.mu.Lock(); p.list = append(p.list, s); p.mu.Unlock() }
func (p *problems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.list
	p.list = nil
	return out
}

func watch(ctx context.Context) *problems {
	p := &problems{}
	chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventExceptionThrown:
			p.add("exception: " + e.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				p.add(fmt.Sprintf("console %s", e.Type))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				p.add("log: " + e.Entry.Text)
			}
		case *network.EventLoadingFailed:
			if !e.Canceled {
				p.add("request failed: " + e.ErrorText)
			}
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				p.add(fmt.Sprintf("HTTP %d for %s", int(e.Response.Status), e.Response.URL))
			}
		}
	})
	return p
}

// axeSource is axe-core's axe.min.js, installed by .ci/run (npm install axe-core at a pinned version
// into build/axe) or named by RENEWALD_AXE_JS; "" when absent.
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("RENEWALD_AXE_JS")
	if p == "" {
		p = filepath.Join("..", "build", "axe", "node_modules", "axe-core", "axe.min.js")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("axe-core is not installed at %s: %v", p, err)
		}
		t.Logf("axe-core checks skipped: %v (npm install --prefix build/axe axe-core@4.14.1)", err)
		return ""
	}
	return string(b)
}

type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

func runAxe(ctx context.Context, src string) ([]axeViolation, error) {
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](src+";true")); err != nil {
		return nil, err
	}
	return chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)`, chromedp.EvalAwaitPromise))
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("%v: %s", err, js)
	}
	return v
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func TestBrowserPages(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.server(t, nil))
	defer srv.Close()
	axeJS := axeSource(t)
	probs := watch(ctx)
	for _, vp := range []struct{ w, h int64 }{{1280, 800}, {390, 844}} {
		do(t, ctx, chromedp.EmulateViewport(vp.w, vp.h))
		for _, p := range f.pages() {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			do(t, ctx, chromedp.Navigate(srv.URL+p+sep+"refresh=off"), chromedp.WaitReady("footer"))
			// The page's load event has fired, frames (the email preview) included.
			if !eval[bool](t, ctx, `document.readyState === 'complete'`) {
				t.Errorf("%s: not loaded", p)
			}
			if title := eval[string](t, ctx, `document.title`); !strings.Contains(title, "renewald") {
				t.Errorf("%s: title %q", p, title)
			}
			if eval[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
				t.Errorf("%s at %dpx: the page scrolls sideways", p, vp.w)
			}
			if axeJS != "" {
				vs, err := runAxe(ctx, axeJS)
				if err != nil {
					t.Fatalf("%s: axe: %v", p, err)
				}
				for _, v := range vs {
					if v.Impact == "serious" || v.Impact == "critical" {
						t.Errorf("%s at %dpx: axe %s (%s): %s on %v", p, vp.w, v.ID, v.Impact, v.Help, v.Nodes)
					} else {
						t.Logf("%s at %dpx: axe %s (%s): %s", p, vp.w, v.ID, v.Impact, v.Help)
					}
				}
			}
			for _, pr := range probs.take() {
				t.Errorf("%s at %dpx: %s", p, vp.w, pr)
			}
		}
	}
}

func TestBrowserTimelinePositions(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.server(t, nil))
	defer srv.Close()
	from, to := d("2026-04-01"), d("2026-07-31")
	for _, w := range []int64{1280, 390} {
		type positions struct {
			TodayX, TodayPx, BarX, BarEnd, BarPx, BarEndPx, SvgLeft, SvgWidth, ViewW float64
			Date                                                                     string
		}
		js := `(() => {
			const svg = document.getElementById('timeline'), vb = svg.viewBox.baseVal, r = svg.getBoundingClientRect();
			const today = document.getElementById('today');
			const bar = document.querySelector('g.renewal[data-anniversary="2026-06-10"] rect.span');
			const tr = today.getBoundingClientRect(), br = bar.getBoundingClientRect();
			return {TodayX: today.x1.baseVal.value, TodayPx: tr.left + tr.width / 2, Date: today.dataset.date,
				BarX: bar.x.baseVal.value, BarEnd: bar.x.baseVal.value + bar.width.baseVal.value, BarPx: br.left, BarEndPx: br.right,
				SvgLeft: r.left, SvgWidth: r.width, ViewW: vb.width};
		})()`
		do(t, ctx, chromedp.EmulateViewport(w, 800),
			chromedp.Navigate(srv.URL+"/renewals?from=2026-04-01&to=2026-07-31&partner=p1&refresh=off"), chromedp.WaitReady("#today"))
		got := eval[positions](t, ctx, js)
		near := func(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
		px := func(x float64) float64 { return got.SvgLeft + x*got.SvgWidth/got.ViewW }
		if got.Date != "2026-05-01" || !near(got.TodayX, dayX(from, to, d("2026-05-01")), 0.01) || !near(got.TodayPx, px(got.TodayX), 1.5) {
			t.Errorf("%dpx: today line at %.2f (%.1fpx), want %.2f (%.1fpx)", w, got.TodayX, got.TodayPx, dayX(from, to, d("2026-05-01")), px(got.TodayX))
		}
		if !near(got.BarX, dayX(from, to, d("2026-04-11")), 0.01) || !near(got.BarEnd, dayX(from, to, d("2026-07-10")), 0.01) {
			t.Errorf("%dpx: bar from %.2f to %.2f, want %.2f to %.2f", w, got.BarX, got.BarEnd, dayX(from, to, d("2026-04-11")), dayX(from, to, d("2026-07-10")))
		}
		if !near(got.BarPx, px(got.BarX), 1.5) || !near(got.BarEndPx, px(got.BarEnd), 1.5) {
			t.Errorf("%dpx: bar drawn from %.1fpx to %.1fpx, want %.1f to %.1f", w, got.BarPx, got.BarEndPx, px(got.BarX), px(got.BarEnd))
		}
	}
}

func TestBrowserFiltersSurviveReload(t *testing.T) {
	ctx := browser(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.server(t, nil))
	defer srv.Close()
	count := func(sel string) int { return eval[int](t, ctx, `document.querySelectorAll('`+sel+`').length`) }
	do(t, ctx, chromedp.Navigate(srv.URL+"/outbox?refresh=off"), chromedp.WaitReady("footer"))
	all := count("table.rows tbody tr")
	do(t, ctx, chromedp.SetValue(`select[name="status"]`, "failed"), chromedp.Submit(`form.filters`), chromedp.WaitReady("footer"))
	waitURL(t, ctx, "status=failed")
	url := eval[string](t, ctx, `location.href`)
	if n := count("table.rows tbody tr"); n != 1 || all <= n {
		t.Fatalf("filtered to %d rows of %d at %s", n, all, url)
	}
	do(t, ctx, chromedp.Reload(), chromedp.WaitReady("footer"))
	if status, n := eval[string](t, ctx, `document.querySelector('select[name="status"]').value`), count("table.rows tbody tr"); status != "failed" || n != 1 {
		t.Errorf("after reload: status %q, %d rows", status, n)
	}
	// The timeline: at risk only.
	do(t, ctx, chromedp.Navigate(srv.URL+"/renewals?from=2026-04-01&to=2026-07-31&refresh=off"), chromedp.WaitReady("footer"))
	all = count("g.renewal")
	do(t, ctx, chromedp.Click(`input[name="at_risk"]`), chromedp.Submit(`form.filters`))
	waitURL(t, ctx, "at_risk=1")
	do(t, ctx, chromedp.WaitReady("footer"), chromedp.Reload(), chromedp.WaitReady("footer"))
	url = eval[string](t, ctx, `location.href`)
	checked := eval[bool](t, ctx, `document.querySelector('input[name="at_risk"]').checked`)
	if n := count("g.renewal"); n != 1 || all <= 1 || !checked || !strings.Contains(url, "from=2026-04-01") {
		t.Errorf("at risk after reload: %d of %d renewals, checked %v, %s", n, all, checked, url)
	}
}

// waitURL waits until the tab's address contains s (a form's navigation has committed).
func waitURL(t *testing.T, ctx context.Context, s string) {
	t.Helper()
	// The navigation may replace the page's context under the poll: poll again in the new one.
	var err error
	for range 50 {
		if _, err = chromedp.Run(ctx, chromedp.Poll[bool](`location.href.includes(`+strconv.Quote(s)+`) && document.readyState === 'complete'`)); err == nil {
			return
		}
	}
	t.Fatalf("waiting for %s: %v", s, err)
}

// TestBrowserScreenshots writes the README's screenshots when RENEWALD_SCREENSHOTS names a folder:
//
//	RENEWALD_SCREENSHOTS=$PWD/docs go test ./web -run TestBrowserScreenshots
func TestBrowserScreenshots(t *testing.T) {
	dir := os.Getenv("RENEWALD_SCREENSHOTS")
	if dir == "" {
		t.Skip("set RENEWALD_SCREENSHOTS to a folder to write the screenshots")
	}
	ctx := browser(t)
	f := newFixture(t)
	srv := httptest.NewServer(f.server(t, nil))
	defer srv.Close()
	for name, p := range map[string]string{"web-overview.png": "/?refresh=off",
		"web-timeline.png": "/renewals?from=2026-04-01&to=2026-07-31&refresh=off"} {
		do(t, ctx, chromedp.EmulateViewport(1280, 800), chromedp.Navigate(srv.URL+p), chromedp.WaitReady("footer"))
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
