package enrichers

import "unsafe"

// stringOf views b as a string without copying. The caller must not modify b
// while the string (or any substring gjson hands out from it) is in use.
func stringOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// bytesOf views s as a read-only byte slice without copying.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
