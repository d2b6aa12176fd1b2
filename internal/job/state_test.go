package job

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/rootsync/rootsync/stores"
)

// memStore is a test double for a store that is no files (a Windows
// certificate store): its entries live in memory, Paths is empty, and it
// saves and restores its state itself.
type memStore struct {
	ders     []string
	restores int
}

func (m *memStore) Spec() stores.Spec                 { return stores.Spec{Kind: "test", Location: "memory"} }
func (m *memStore) Capabilities() stores.Capabilities { return stores.Capabilities{Ownership: true} }
func (m *memStore) Paths() []string                   { return nil }

func (m *memStore) Load(context.Context) (*stores.Set, error) {
	s := stores.NewSet()
	for _, h := range m.ders {
		der, _ := hex.DecodeString(h)
		s.Add(&stores.Entry{Cert: stores.MustParse(der), Trust: stores.TrustAll(), Owned: true})
	}
	return s, nil
}

func (m *memStore) Apply(_ context.Context, ch []stores.Change) error {
	for _, c := range ch {
		if c.Action == stores.Add {
			m.ders = append(m.ders, hex.EncodeToString(c.Entry.Cert.DER))
		}
	}
	return nil
}

func (m *memStore) SaveState(context.Context) ([]byte, error) {
	return []byte("saved:" + strings.Join(m.ders, ",")), nil
}

func (m *memStore) RestoreSavedState(_ context.Context, state []byte) error {
	s, ok := strings.CutPrefix(string(state), "saved:")
	if !ok {
		return errors.New("not a saved state")
	}
	m.ders, m.restores = nil, m.restores+1
	if s != "" {
		m.ders = strings.Split(s, ",")
	}
	return nil
}

// TestRollbackRestoresSavedState: a store that is no files is backed up
// through SaveState (kept in the backup's manifest), and a failure later in
// the run puts it back through RestoreSavedState.
func TestRollbackRestoresSavedState(t *testing.T) {
	dir, src := fixture(t)
	a := &memStore{}
	b := &fileStore{path: dir + "/b", fail: true}
	if _, err := runJob(dir, newJob(dir, src, Target{Store: a}, Target{Store: b})); !errors.Is(err, ErrFailed) {
		t.Fatalf("Run: %v, want ErrFailed", err)
	}
	if a.restores != 1 || len(a.ders) != 0 {
		t.Errorf("after the rollback: %d restores, %d entries; want 1 restore and the empty store it was", a.restores, len(a.ders))
	}
}
