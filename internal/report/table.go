package report

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cellGap is the space between two columns.
const cellGap = 2

// table writes rows of cells aligned in columns: every cell but a row's last
// is padded with spaces to the width of its column's widest cell plus
// cellGap; the last cell is written as it is. It is the layout of
// text/tabwriter (minwidth 0, padding 2, padchar ' ', no flags) for rows
// that all have the same number of cells, without holding the text: the
// widths are measured in a first pass over the rows and each line is written
// as soon as it is made in the second, so that a table of 100,000 changes
// costs one row's memory rather than the whole table's.
//
// Cells are made printable first (see printable): text that comes from a
// certificate cannot add a line, shift a column or send a terminal escape.
type table struct {
	// rows is the number of rows.
	rows int
	// cells appends the cells of row i to buf and returns it; it is called
	// twice per row, so it must give the same cells both times.
	cells func(i int, buf []string) []string
	// paint, when set, may wrap a finished line (without its newline), for
	// colour: escape codes added after the alignment do not count as width.
	paint func(i int, line string) string
}

// write writes the table to ew.
func (t table) write(ew *errWriter) {
	var widths []int
	var buf []string
	for i := range t.rows {
		buf = t.cells(i, buf[:0])
		for j, c := range buf {
			if j == len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], utf8.RuneCountInString(printable(c)))
		}
	}
	var line strings.Builder
	for i := range t.rows {
		buf = t.cells(i, buf[:0])
		line.Reset()
		for j, c := range buf {
			c = printable(c)
			line.WriteString(c)
			if j < len(buf)-1 {
				line.WriteString(strings.Repeat(" ", widths[j]+cellGap-utf8.RuneCountInString(c)))
			}
		}
		s := line.String()
		if t.paint != nil {
			s = t.paint(i, s)
		}
		ew.printf("%s\n", s)
	}
}

// printable returns s with every control character (C0, DEL, C1) and every
// Unicode bidirectional control replaced by '?', and invalid UTF-8 by the
// replacement character: a certificate's name is shown as text, never
// interpreted by the terminal. s itself is returned when it needs no change.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError {
			return r
		}
		if unsafeRune(r) {
			return '?'
		}
		return r
	}, s)
}

// unsafeRune reports whether r must not reach a terminal as it is.
func unsafeRune(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)
}
