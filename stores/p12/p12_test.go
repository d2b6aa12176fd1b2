package p12_test

import (
	"testing"

	"github.com/rootsync/rootsync/stores/javastore/javatest"
	"github.com/rootsync/rootsync/stores/p12"
)

var kind = javatest.Kind{Name: "p12", StoreType: "PKCS12", Ext: "p12", Open: p12.Open}

func TestConformance(t *testing.T) { kind.Conformance(t, "conformance-pw") }

func TestOpenRejectsOtherKinds(t *testing.T) { kind.OpenRefuses(t, "jks:/x/a.jks", "pem:/x/a.pem") }
