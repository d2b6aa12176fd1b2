//go:build !unix

package securefs

// Windows (and other systems without O_NOFOLLOW); OpenFile looks before it opens.
const oNoFollow = 0
