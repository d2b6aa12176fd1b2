package jks_test

import (
	"testing"

	"github.com/rootsync/rootsync/stores/javastore/javatest"
	"github.com/rootsync/rootsync/stores/jks"
)

var kind = javatest.Kind{Name: "jks", StoreType: "JKS", Ext: "jks", Open: jks.Open}

func TestConformance(t *testing.T) { kind.Conformance(t, "conformance-pw") }

func TestOpenRejectsOtherKinds(t *testing.T) { kind.OpenRefuses(t, "p12:/x/a.p12", "pem:/x/a.pem") }
