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
	// appendCells, set instead of cells, appends the text of row i's cells
	// to dst, one after the other, and the offset in dst where each ends to
	// ends, so that a table of many rows is written without a string made
	// per cell. It too is called twice per row.
	appendCells func(i int, dst []byte, ends []int) ([]byte, []int)
	// paint, when set, gives the colour of line i (an escape code, "" for
	// none): the line is written between it and the reset code, which do
	// not count as width.
	paint func(i int) string
}

// write writes the table to ew.
func (t table) write(ew *errWriter) {
	var widths []int
	var buf []string
	var text, line []byte
	var ends []int
	row := func(i int) {
		if t.appendCells != nil {
			text, ends = t.appendCells(i, text[:0], ends[:0])
			return
		}
		buf = t.cells(i, buf[:0])
		text, ends = text[:0], ends[:0]
		for _, c := range buf {
			text = append(text, c...)
			ends = append(ends, len(text))
		}
	}
	for i := range t.rows {
		row(i)
		start := 0
		for j, end := range ends {
			if j == len(widths) {
				widths = append(widths, 0)
			}
			widths[j] = max(widths[j], utf8.RuneCount(printableBytes(text[start:end])))
			start = end
		}
	}
	for i := range t.rows {
		row(i)
		line = line[:0]
		color := ""
		if t.paint != nil {
			color = t.paint(i)
		}
		line = append(line, color...)
		start := 0
		for j, end := range ends {
			c := printableBytes(text[start:end])
			start = end
			line = append(line, c...)
			if j < len(ends)-1 {
				for pad := widths[j] + cellGap - utf8.RuneCount(c); pad > 0; pad-- {
					line = append(line, ' ')
				}
			}
		}
		switch {
		case len(line) == len(color):
			line = line[:0] // an empty line is not painted
		case color != "":
			line = append(line, reset...)
		}
		line = append(line, '\n')
		_, _ = ew.Write(line)
	}
}

// printableBytes is printable for a cell's bytes: b itself when it needs no
// change.
func printableBytes(b []byte) []byte {
	for _, r := range string(b) { // no copy: the conversion only ranges
		if unsafeRune(r) {
			return []byte(printable(string(b)))
		}
	}
	return b
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
