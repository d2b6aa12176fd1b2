package report

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// TestTableMatchesTabwriter: for tables of printable cells the layout is
// exactly text/tabwriter's (minwidth 0, padding 2, padchar ' '), the
// layout every table had before and scripts may parse, whether the cells
// are given as strings or appended.
func TestTableMatchesTabwriter(t *testing.T) {
	words := []string{"", "a", "Go Daddy Root", "Ünïcødé", "日本語の名前", "e0b4a1c2d3f4a5b6", "C,C,", "rootsync-ab.pem", "x y  z"}
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		rows, cols := rng.IntN(12), 1+rng.IntN(6)
		cells := make([][]string, rows)
		for i := range cells {
			for range cols {
				cells[i] = append(cells[i], words[rng.IntN(len(words))])
			}
		}
		var want bytes.Buffer
		tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
		for _, r := range cells {
			fmt.Fprintln(tw, strings.Join(r, "\t"))
		}
		tw.Flush()
		var got, appended bytes.Buffer
		table{rows: rows, cells: func(i int, buf []string) []string { return append(buf, cells[i]...) }}.write(&errWriter{w: &got})
		if got.String() != want.String() {
			t.Fatalf("trial %d: table\n%q\ntabwriter\n%q", trial, got.String(), want.String())
		}
		table{rows: rows, appendCells: func(i int, dst []byte, ends []int) ([]byte, []int) {
			for _, c := range cells[i] {
				dst = append(dst, c...)
				ends = append(ends, len(dst))
			}
			return dst, ends
		}}.write(&errWriter{w: &appended})
		if appended.String() != want.String() {
			t.Fatalf("trial %d: table of appended cells\n%q\ntabwriter\n%q", trial, appended.String(), want.String())
		}
	}
}

// TestTableCellsArePrintable: a name from a certificate cannot start a line
// of its own, shift the columns, or reach the terminal as an escape.
func TestTableCellsArePrintable(t *testing.T) {
	hostile := "Evil\n  + add  Trusted Root\tx\x1b[2J\u202eoot\x00\xff"
	var out bytes.Buffer
	table{rows: 2, cells: func(i int, buf []string) []string {
		if i == 0 {
			return append(buf, "NAME", "FP")
		}
		return append(buf, hostile, "0011")
	}}.write(&errWriter{w: &out})
	// The cleaned name is 38 characters wide: NAME is padded to 40.
	want := "NAME" + strings.Repeat(" ", 36) + "FP\n" +
		"Evil?  + add  Trusted Root?x?[2J?oot?\ufffd  0011\n"
	if out.String() != want {
		t.Fatalf("got\n%q\nwant\n%q", out.String(), want)
	}
	if s := "plain Ünïcødé"; printable(s) != s {
		t.Errorf("printable changed %q to %q", s, printable(s))
	}
}

// TestTableStreams: the table is written line by line while the rows are
// made, not gathered first; a large plan's text costs no memory of its own.
func TestTableStreams(t *testing.T) {
	const rows = 1000
	var out bytes.Buffer
	calls := make([]int, rows)
	table{rows: rows, cells: func(i int, buf []string) []string {
		calls[i]++
		switch calls[i] {
		case 1: // measuring: nothing written yet
			if out.Len() != 0 {
				t.Fatalf("row %d: %d bytes written while measuring", i, out.Len())
			}
		case 2: // writing: every earlier row is out already
			if n := strings.Count(out.String(), "\n"); n != i {
				t.Fatalf("row %d made with %d lines written, want %d", i, n, i)
			}
		default:
			t.Fatalf("row %d made %d times", i, calls[i])
		}
		return append(buf, fmt.Sprint(i), "cell")
	}}.write(&errWriter{w: &out})
	if n := strings.Count(out.String(), "\n"); n != rows {
		t.Fatalf("%d lines, want %d", n, rows)
	}
}

// TestTablesAllocatePerTable: a listing and a plan's changes are written
// with a fixed number of allocations, not some per row: twice the rows
// cost no more.
func TestTablesAllocatePerTable(t *testing.T) {
	var es []*stores.Entry
	var changes []stores.Change
	for i := range 200 {
		e := entry(fmt.Sprintf("Table Allocations Root %d", i), stores.TrustAll(), i%2 == 0)
		es = append(es, e)
		changes = append(changes, stores.Change{Action: stores.Action(1 + i%3), Entry: e, From: stores.DistrustAll(), Reason: "trusted by pem:a.pem"})
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	list := func(n int) float64 {
		s := stores.NewSet()
		for _, e := range es[:n] {
			s.Add(e)
		}
		return testing.AllocsPerRun(5, func() {
			if err := ListText(io.Discard, []Listing{{Store: "pem:a.pem", Set: s, Now: now}}); err != nil {
				t.Fatal(err)
			}
		})
	}
	plan := func(n int) float64 {
		return testing.AllocsPerRun(5, func() { changeTable(changes[:n], Style{Color: true}).write(&errWriter{w: io.Discard}) })
	}
	// Entries (the listing's order) is one allocation per entry, or so, of
	// its own: half a row is allowed for.
	if small, large := list(100), list(200); large-small > 50 {
		t.Errorf("a listing of 200 rows: %v allocations, of 100: %v", large, small)
	}
	if small, large := plan(100), plan(200); large-small > 5 {
		t.Errorf("200 changes: %v allocations, 100: %v", large, small)
	}
}
