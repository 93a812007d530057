package notify

import (
	"fmt"
	"strings"

	"github.com/renewald/renewald/renewal"
)

// The picture of the renewal in every email (issues 20 and 26): one table row of cells, a cell per run
// of days of one kind, from the lead-in before the window (when the send day is before it) to the end
// of grace, with the anniversary and the send day as one-day cells. The two markers are drawn at least
// MinMarkerFraction of the bar wide (8 px on a 390 px phone), the width taken from their neighbours so
// they stay centred on their day, and each is labelled in words beside it ("today", "anniversary"):
// no colour is needed to tell them apart. Mid-tone colours with a border, so the bar stays legible when
// a client inverts colours; the dates stand beside it as text.

// MinMarkerFraction is the narrowest a marker cell is drawn: 3 % of the bar is 10 px of the 350 px a
// 390 px phone leaves it.
const MinMarkerFraction = 0.03

// Bar cell kinds and their colours.
var barColors = map[string]string{
	"lead-in":     "#9e9e9e",
	"window":      "#3d85c6",
	"anniversary": "#0b3d91",
	"grace":       "#e69138",
	"sent":        "#202020",
	"after":       "#bdbdbd",
}

// BarCell is one cell of the bar: Days days of one Kind.
type BarCell struct {
	Kind     string // lead-in, window, anniversary, grace, sent (the send day), after
	Days     int
	Width    string // its share of the bar, as a percentage for the width attribute ("12.583%")
	Color    string
	Label    string  // what the cell is, with its dates
	fraction float64 // its share of the bar, 0..1
}

// BarLabel is the words under one marker: a row of the bar's width whose text starts at the marker's
// left edge (Right false) or ends at its right edge (Right true, for a marker in the bar's right half).
type BarLabel struct {
	Text         string // "today, 2027-01-05", "anniversary, 2027-03-06"
	Right        bool
	Before       string // the width before the text's cell, as a percentage ("" when none)
	After        string // the width after it ("" when none)
	Width        string // the text cell's width
	MarkerCenter float64
}

// Bar is the picture of one renewal seen from the send day.
type Bar struct {
	Cells         []BarCell
	Start, End    renewal.Date // the first and last day drawn
	Days          int          // days drawn, both ends included
	TodayFraction float64      // where the middle of the send day falls, 0..1 from the bar's left
	LeadIn        bool         // the bar starts before the window opens
	Labels        []BarLabel   // the markers in words, today's first
	Text          string       // the text part's equivalent: the bar and its legend, on two lines
}

// renewalBar draws the renewal rn as seen on day sent; leadIn is how many days before the anniversary
// the earliest reminder falls (the lead-in starts there when the send day is before the window).
func renewalBar(rn renewal.Renewal, sent renewal.Date, earliestOffset int) Bar {
	start := rn.WindowOpens
	if sent.Before(rn.WindowOpens) {
		start = rn.Anniversary.AddDays(min(earliestOffset, -start.DaysUntil(rn.Anniversary)))
		if sent.Before(start) {
			start = sent
		}
	}
	end := rn.GraceEnds
	if sent.After(end) {
		end = sent
	}
	b := Bar{Start: start, End: end, Days: start.DaysUntil(end) + 1, LeadIn: start.Before(rn.WindowOpens)}
	kind := func(d renewal.Date) string {
		switch {
		case d == sent:
			return "sent"
		case d == rn.Anniversary:
			return "anniversary"
		case d.Before(rn.WindowOpens):
			return "lead-in"
		case d.Before(rn.Anniversary):
			return "window"
		case !d.After(rn.GraceEnds):
			return "grace"
		}
		return "after"
	}
	var runStart renewal.Date
	for d := start; !d.After(end); d = d.AddDays(1) {
		k := kind(d)
		n := len(b.Cells)
		if n > 0 && b.Cells[n-1].Kind == k {
			b.Cells[n-1].Days++
			continue
		}
		if n > 0 {
			b.Cells[n-1].Label = cellLabel(b.Cells[n-1], runStart)
		}
		runStart = d
		b.Cells = append(b.Cells, BarCell{Kind: k, Days: 1, Color: barColors[k]})
	}
	b.Cells[len(b.Cells)-1].Label = cellLabel(b.Cells[len(b.Cells)-1], runStart)
	widenMarkers(b.Cells, b.Days)
	for i := range b.Cells {
		b.Cells[i].Width = percent(b.Cells[i].fraction)
	}
	b.TodayFraction = (float64(start.DaysUntil(sent)) + 0.5) / float64(b.Days)
	b.Labels = barLabels(b.Cells, rn, sent)
	b.Text = barText(b, rn, sent)
	return b
}

func percent(f float64) string { return fmt.Sprintf("%.3f%%", f*100) }

// widenMarkers sets every cell's fraction of the bar, the markers (sent, anniversary) at least
// MinMarkerFraction, the width taken half from each neighbour (all from one at an end), then from the
// widest cell if a neighbour runs out.
func widenMarkers(cells []BarCell, total int) {
	for i := range cells {
		cells[i].fraction = float64(cells[i].Days) / float64(total)
	}
	marker := func(i int) bool { return cells[i].Kind == "sent" || cells[i].Kind == "anniversary" }
	take := func(i int, want float64) float64 { // takes up to want from cell i, keeping it 0.5 % wide
		if i < 0 || i >= len(cells) || marker(i) {
			return 0
		}
		got := max(min(want, cells[i].fraction-0.005), 0)
		cells[i].fraction -= got
		return got
	}
	for i := range cells {
		if !marker(i) || cells[i].fraction >= MinMarkerFraction {
			continue
		}
		need := MinMarkerFraction - cells[i].fraction
		half := need / 2
		if i == 0 || i == len(cells)-1 {
			half = need
		}
		got := take(i-1, half) + take(i+1, half)
		got += take(i-1, need-got) + take(i+1, need-got)
		for need-got > 1e-9 {
			w := -1
			for j := range cells {
				if !marker(j) && (w < 0 || cells[j].fraction > cells[w].fraction) {
					w = j
				}
			}
			if w < 0 || cells[w].fraction <= 0.005 {
				break
			}
			got += take(w, need-got)
		}
		cells[i].fraction += got
	}
}

// barLabels places the words of each marker under it: today's, and the anniversary's (one label when
// the send day is the anniversary).
func barLabels(cells []BarCell, rn renewal.Renewal, sent renewal.Date) []BarLabel {
	var out []BarLabel
	left := 0.0
	for _, c := range cells {
		text := ""
		switch c.Kind {
		case "sent":
			text = "today, " + sent.String()
			if sent == rn.Anniversary {
				text = "today, the anniversary, " + sent.String()
			}
		case "anniversary":
			text = "anniversary, " + rn.Anniversary.String()
		}
		if text != "" {
			l := BarLabel{Text: text, MarkerCenter: left + c.fraction/2}
			if l.MarkerCenter > 0.5 { // text ends at the marker's right edge
				l.Right, l.Width = true, percent(left+c.fraction)
				if rest := 1 - left - c.fraction; rest > 0.001 {
					l.After = percent(rest)
				}
			} else {
				l.Width = percent(1 - left)
				if left > 0.001 {
					l.Before = percent(left)
				}
			}
			if c.Kind == "sent" {
				out = append([]BarLabel{l}, out...)
			} else {
				out = append(out, l)
			}
		}
		left += c.fraction
	}
	return out
}

func cellLabel(c BarCell, from renewal.Date) string {
	to := from.AddDays(c.Days - 1)
	switch c.Kind {
	case "sent":
		return "today, " + from.String()
	case "anniversary":
		return "anniversary, " + from.String()
	}
	if c.Days == 1 {
		return c.Kind + ", " + from.String()
	}
	return c.Kind + ", " + from.String() + " to " + to.String()
}

// barText is the bar as text: 40 characters, "-" lead-in, "=" window, "|" anniversary, "~" grace,
// "*" today (the send day); then a legend of the marks drawn, and nothing else.
func barText(b Bar, rn renewal.Renewal, sent renewal.Date) string {
	const width = 40
	marks := map[string]byte{"lead-in": '-', "window": '=', "anniversary": '|', "grace": '~', "sent": '*', "after": '.'}
	line := make([]byte, width)
	pos := func(d renewal.Date) int {
		return min(int(float64(b.Start.DaysUntil(d))*width/float64(b.Days)), width-1)
	}
	day := b.Start
	for _, c := range b.Cells {
		for i := pos(day); i <= pos(day.AddDays(c.Days-1)); i++ {
			if line[i] == 0 {
				line[i] = marks[c.Kind]
			}
		}
		day = day.AddDays(c.Days)
	}
	ps, pa := pos(sent), pos(rn.Anniversary)
	if ps == pa && sent != rn.Anniversary { // both would share a character: move the anniversary aside
		if rn.Anniversary.After(sent) && pa < width-1 || pa == 0 {
			pa++
		} else {
			pa--
		}
	}
	if !rn.Anniversary.Before(b.Start) && !rn.Anniversary.After(b.End) {
		line[pa] = '|'
	}
	line[ps] = '*'
	drawn := string(line)
	type entry struct {
		mark byte
		text string
	}
	legend := []entry{{'*', "today " + sent.String()}}
	if sent == rn.Anniversary {
		legend[0].text = "today, the anniversary " + sent.String()
	} else {
		legend = append(legend, entry{'|', "anniversary " + rn.Anniversary.String()})
	}
	legend = append(legend, entry{'-', "before the window"}, entry{'=', "window " + rn.WindowOpens.String() + " to " + rn.WindowCloses.String()},
		entry{'~', "grace to " + rn.GraceEnds.String()}, entry{'.', "after the grace period"})
	var words []string
	for _, e := range legend {
		if strings.IndexByte(drawn, e.mark) >= 0 {
			words = append(words, string(e.mark)+" "+e.text)
		}
	}
	return fmt.Sprintf("[%s]\n%s", strings.ReplaceAll(drawn, "\x00", " "), strings.Join(words, ", "))
}
