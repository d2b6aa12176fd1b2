//go:build windows

package javastore

// searchRoots are where Cacerts looks on Windows: the vendors' folders
// under both Program Files folders, and the JDK JAVA_HOME names. Tests may
// replace it.
var searchRoots = []searchRoot{
	{env: "ProgramFiles", globs: installLayouts},
	{env: "ProgramFiles(x86)", globs: installLayouts},
	{env: "JAVA_HOME", globs: homeLayouts, usedBy: "Java (JAVA_HOME)"},
}
