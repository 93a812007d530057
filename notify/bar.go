package notify

import (
	"fmt"
	"strings"

	"github.com/renewald/renewald/renewal"
)

// The picture of the renewal in every email (issue 20): one table row of cells, a cell per run of days
// of one kind, from the lead-in before the window (when the send day is before it) to the end of
// grace, with the anniversary and the send day as one-day cells. The send day is the reader's today;
// it is labelled "this email" because R12 keeps the word "today" for events that happen on the day.
// Mid-tone colours with a border, so the bar stays legible when a client inverts colours; the dates
// stand beside it as text.

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
	Kind  string // lead-in, window, anniversary, grace, sent (the send day), after
	Days  int
	Width string // its share of the bar, as a percentage for the width attribute ("12.583%")
	Color string
	Label string // what the cell is, with its dates
}

// Bar is the picture of one renewal seen from the send day.
type Bar struct {
	Cells         []BarCell
	Start, End    renewal.Date // the first and last day drawn
	Days          int          // days drawn, both ends included
	TodayFraction float64      // where the middle of the send day falls, 0..1 from the bar's left
	LeadIn        bool         // the bar starts before the window opens
	Text          string       // the one-line equivalent for the text part
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
	for i := range b.Cells {
		b.Cells[i].Width = fmt.Sprintf("%.3f%%", float64(b.Cells[i].Days)*100/float64(b.Days))
	}
	b.TodayFraction = (float64(start.DaysUntil(sent)) + 0.5) / float64(b.Days)
	b.Text = barText(b, rn, sent)
	return b
}

func cellLabel(c BarCell, from renewal.Date) string {
	to := from.AddDays(c.Days - 1)
	switch c.Kind {
	case "sent":
		return "this email, " + from.String()
	case "anniversary":
		return "anniversary, " + from.String()
	}
	if c.Days == 1 {
		return c.Kind + ", " + from.String()
	}
	return c.Kind + ", " + from.String() + " to " + to.String()
}

// barText is the bar as one line of text: 40 characters, "-" lead-in, "=" window, "|" anniversary,
// "~" grace, "*" the send day.
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
			if line[i] == 0 || c.Kind == "anniversary" {
				line[i] = marks[c.Kind]
			}
		}
		day = day.AddDays(c.Days)
	}
	line[pos(sent)] = '*'
	var legend []string
	if b.LeadIn {
		legend = append(legend, "- before the window")
	}
	legend = append(legend, "= window "+rn.WindowOpens.String()+" to "+rn.WindowCloses.String(),
		"| anniversary "+rn.Anniversary.String(), "~ grace to "+rn.GraceEnds.String(), "* this email "+sent.String())
	return fmt.Sprintf("[%s] %s", strings.ReplaceAll(string(line), "\x00", " "), strings.Join(legend, ", "))
}
