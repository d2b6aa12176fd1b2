//go:build !windows

package javastore

// searchRoots are where Cacerts looks: nowhere on this system, where a
// distribution's package keeps Java's truststore (the jks: kind reports
// Debian's). Tests may replace it.
var searchRoots []searchRoot
