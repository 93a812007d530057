package main

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLongFieldImportPeakRSS: the real binary refuses a file with a 300 MB partner_name (CSV and
// JSON) with exit 2, naming the file, line and field, at no more than 100 MB peak RSS (it took
// 1.4 GB for the CSV file and 2.4 GB for the JSON file when the field was read whole).
func TestLongFieldImportPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("writes two 300 MB files")
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory is not the import's")
	}
	const size = 300 << 20
	const maxRSS = 100 << 20
	for _, tc := range []struct{ file, head, tail, want string }{
		{"u.csv", "partner_id,partner_name,email,name,roles\n1,", ",ada@contoso.example,Ada,Global admin\n", ": line 2: partner_name: longer than"},
		{"p.json", "{\"partners\": [\n{\"id\": \"1\", \"name\": \"", "\"}]}\n", ": line 2: partners[0]: partner_name: longer than"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t, "")
			p := filepath.Join(e.dir, tc.file)
			writeLongField(t, p, tc.head, size, tc.tail)
			c := e.cmd("import", p)
			var stdout, stderr bytes.Buffer
			c.Stdout, c.Stderr = &stdout, &stderr
			c.Run()
			rss := c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
			t.Logf("%s with a %d MB partner_name: exit %d, peak RSS %.1f MB", tc.file, size>>20, c.ProcessState.ExitCode(), float64(rss)/(1<<20))
			if code := c.ProcessState.ExitCode(); code != 2 || !strings.Contains(stderr.String(), p+tc.want) || stderr.Len() > 1000 {
				t.Errorf("exit %d, stderr %.300q", code, stderr.String())
			}
			if rss > maxRSS {
				t.Errorf("peak RSS %d MB, want at most %d MB", rss>>20, maxRSS>>20)
			}
		})
	}
}

// writeLongField writes head, size bytes of 'x' and tail to path, a MiB at a time.
func writeLongField(t *testing.T, path, head string, size int, tail string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString(head)
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for n := 0; n < size; n += len(chunk) {
		w.Write(chunk[:min(len(chunk), size-n)])
	}
	w.WriteString(tail)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
