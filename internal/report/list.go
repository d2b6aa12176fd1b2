package report

import (
	"io"
	"time"

	"github.com/rootsync/rootsync/stores"
)

// Listing is one store's contents.
type Listing struct {
	Store string
	Set   *stores.Set
	// Flags, when set, gives a store-specific trust rendering (e.g. NSS's
	// certutil letters) shown beside rootsync's own.
	Flags func(*stores.Entry) string
	Now   time.Time
	// Notes are the store's remarks about itself (a file kept in another
	// format than its spec names, keys it holds, ...).
	Notes []string
}

// ListText writes the listings one after the other, each as a table.
func ListText(w io.Writer, ls []Listing) error {
	ew := &errWriter{w: w}
	for _, l := range ls {
		listText(ew, l)
	}
	return ew.err
}

func listText(ew *errWriter, l Listing) {
	es := l.Set.Entries()
	ew.printf("%s: %s\n", l.Store, certificates(len(es)))
	for _, n := range l.Notes {
		ew.printf("note: %s\n", n)
	}
	if len(es) == 0 {
		return
	}
	header := []string{"FINGERPRINT", "TRUST"}
	if l.Flags != nil {
		header = append(header, "FLAGS")
	}
	header = append(header, "OWNER", "EXPIRES", "SUBJECT", "LABEL")
	table{
		rows: len(es) + 1,
		appendCells: func(i int, dst []byte, ends []int) ([]byte, []int) {
			if i == 0 {
				for _, h := range header {
					dst = append(dst, h...)
					ends = append(ends, len(dst))
				}
				return dst, ends
			}
			e := es[i-1]
			dst = appendShort(dst, e.Cert.Fingerprint)
			ends = append(ends, len(dst))
			dst = append(dst, e.Trust.String()...)
			ends = append(ends, len(dst))
			if l.Flags != nil {
				dst = append(dst, l.Flags(e)...)
				ends = append(ends, len(dst))
			}
			if e.Owned {
				dst = append(dst, "rootsync"...)
			} else {
				dst = append(dst, '-')
			}
			ends = append(ends, len(dst))
			if e.Cert.NotAfter.IsZero() {
				dst = append(dst, '-')
			} else {
				dst = e.Cert.NotAfter.UTC().AppendFormat(dst, "2006-01-02")
				if !l.Now.IsZero() && e.Cert.Expired(l.Now) {
					dst = append(dst, " (expired)"...)
				}
			}
			ends = append(ends, len(dst))
			dst = append(dst, e.Cert.CommonName()...)
			ends = append(ends, len(dst))
			dst = append(dst, e.Label...)
			return dst, append(ends, len(dst))
		},
	}.write(ew)
	for _, e := range es {
		if e.Cert.ParseError != nil {
			ew.printf("warning: %s %s: kept as bytes, the parser refuses it: %v\n", e.Cert.Fingerprint.Short(), e.Label, e.Cert.ParseError)
		}
		for _, n := range e.Notes {
			ew.printf("note: %s %s: %s\n", e.Cert.Fingerprint.Short(), e.Label, n)
		}
	}
}

type jsonList struct {
	Schema string          `json:"schema"`
	Stores []jsonListStore `json:"stores"`
}

type jsonListStore struct {
	Store        string          `json:"store"`
	Notes        []string        `json:"notes,omitempty"`
	Certificates []jsonListEntry `json:"certificates"`
}

type jsonListEntry struct {
	Fingerprint string            `json:"fingerprint"`
	Subject     string            `json:"subject"`
	Label       string            `json:"label"`
	Owned       bool              `json:"owned"`
	Trust       map[string]string `json:"trust"`
	Flags       string            `json:"flags,omitempty"`
	PrivateKey  bool              `json:"private_key,omitempty"`
	CA          bool              `json:"ca"`
	NotBefore   *time.Time        `json:"not_before,omitempty"`
	NotAfter    *time.Time        `json:"not_after,omitempty"`
	ParseError  string            `json:"parse_error,omitempty"`
	Notes       []string          `json:"notes,omitempty"`
}

// ListJSON writes the listings as one JSON document (schema
// rootsync.list/v2): one element of "stores" per store, in order.
func ListJSON(w io.Writer, ls []Listing) error {
	out := jsonList{Schema: ListSchema, Stores: []jsonListStore{}}
	for _, l := range ls {
		out.Stores = append(out.Stores, listJSON(l))
	}
	return encode(w, out)
}

func listJSON(l Listing) jsonListStore {
	out := jsonListStore{Store: l.Store, Notes: l.Notes, Certificates: []jsonListEntry{}}
	for _, e := range l.Set.Entries() {
		je := jsonListEntry{
			Fingerprint: e.Cert.Fingerprint.String(), Subject: e.Cert.Subject, Label: e.Label,
			Owned: e.Owned, PrivateKey: e.PrivateKey, Trust: TrustMap(e.Trust), CA: e.Cert.IsCA, Notes: e.Notes,
		}
		if l.Flags != nil {
			je.Flags = l.Flags(e)
		}
		if !e.Cert.NotAfter.IsZero() {
			nb, na := e.Cert.NotBefore.UTC(), e.Cert.NotAfter.UTC()
			je.NotBefore, je.NotAfter = &nb, &na
		}
		if e.Cert.ParseError != nil {
			je.ParseError = e.Cert.ParseError.Error()
		}
		out.Certificates = append(out.Certificates, je)
	}
	return out
}
