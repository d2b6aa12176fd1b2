package javastore

import (
	"github.com/rootsync/rootsync/internal/testpki"
	"github.com/rootsync/rootsync/stores"
)

func parse(c *testpki.Cert) *stores.Certificate { return stores.MustParse(c.DER) }

func fpOf(c *testpki.Cert) string { return stores.FingerprintOf(c.DER).String() }
