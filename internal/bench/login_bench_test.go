package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/renewald/renewald/renewal"
	"github.com/renewald/renewald/web"
)

// BenchmarkLogin measures, over loopback HTTP, what a wrong password costs for a known and for an
// unknown user (users hashed at cost 5, htpasswd -B's default; each request from an address of its
// own, so the limit on failed logins does not answer), and a logged-in page's time while 400 failed
// logins arrive 200 at a time: from one address (the limit answers 429 after 10) and from 400
// addresses (every one checked). Clients bind 127.x.y.z source addresses (Linux routes all of
// 127.0.0.0/8 to loopback).
func BenchmarkLogin(b *testing.B) {
	db := bigPartnerDB(b, 100)
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), 5)
	if err != nil {
		b.Fatal(err)
	}
	h := webHandler(b, db, renewal.NewDate(2026, 1, 1), renewal.DefaultCatalog(), func(o *web.Options) {
		o.Users = map[string][]byte{"ops": hash}
		o.Now = time.Now
	})
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, _, err := web.Serve(runCtx, "127.0.0.1:0", "", "", h)
	if err != nil {
		b.Fatal(err)
	}
	base := "http://" + addr
	b.ResetTimer()

	// One request from source with credentials: its time and status.
	get := func(c *http.Client, path, user, pass string) (time.Duration, int) {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.SetBasicAuth(user, pass)
		t0 := time.Now()
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return time.Since(t0), res.StatusCode
	}
	var next uint32 = 1 << 16 // 127.1.0.0 on: an address per request
	fresh := func() *http.Client {
		next++
		ip := net.IPv4(127, byte(next>>16), byte(next>>8), byte(next))
		return clientFrom(ip, false)
	}
	report := func(what string, ds []time.Duration, codes map[int]int) {
		slices.Sort(ds)
		fmt.Printf("login: %-72s p50 %7.1f ms  p95 %7.1f ms  max %7.1f ms  (%d requests) %v\n", what,
			ms(ds[len(ds)/2]), ms(ds[len(ds)*95/100]), ms(ds[len(ds)-1]), len(ds), codes)
	}
	for _, user := range []string{"ops", "eve"} {
		var ds []time.Duration
		codes := map[int]int{}
		for range 40 {
			d, code := get(fresh(), "/", user, "wrong")
			ds, codes[code] = append(ds, d), codes[code]+1
		}
		report(fmt.Sprintf("wrong password, user %q (known: %v)", user, user == "ops"), ds, codes)
	}

	operator := clientFrom(net.IPv4(127, 0, 0, 3), true)
	get(operator, "/", "ops", "s3cret") // the one bcrypt check; later requests hit the cache
	var idle []time.Duration
	for range 40 {
		d, _ := get(operator, "/", "ops", "s3cret")
		idle = append(idle, d)
	}
	report("logged-in page /, no other load", idle, nil)

	for _, attack := range []struct {
		name   string
		client func(i int) *http.Client
	}{
		{"from one address", func() func(int) *http.Client {
			c := clientFrom(net.IPv4(127, 0, 0, 2), true)
			return func(int) *http.Client { return c }
		}()},
		{"from 400 addresses", func(i int) *http.Client { return clientFrom(net.IPv4(127, 3, byte(i>>8), byte(i)), false) }},
	} {
		var mu sync.Mutex
		codes := map[int]int{}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 200)
		done := make(chan struct{})
		t0 := time.Now()
		for i := range 400 {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_, code := get(attack.client(i), "/", fmt.Sprintf("guess%d", i), "wrong")
				mu.Lock()
				codes[code]++
				mu.Unlock()
			}()
		}
		var during []time.Duration
		go func() { wg.Wait(); close(done) }()
	loop:
		for {
			select {
			case <-done:
				break loop
			default:
				d, code := get(operator, "/", "ops", "s3cret")
				if code != 200 {
					b.Fatalf("logged-in page during the attack: %d", code)
				}
				during = append(during, d)
			}
		}
		took := time.Since(t0)
		if len(during) == 0 {
			during = append(during, took)
		}
		report(fmt.Sprintf("logged-in page / during 400 failed logins, 200 parallel, %s (%.2f s)", attack.name, took.Seconds()), during, codes)
	}
}

// clientFrom is an HTTP client whose connections come from the loopback address ip.
func clientFrom(ip net.IP, keepAlive bool) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: !keepAlive, MaxIdleConnsPerHost: 200}}
}
