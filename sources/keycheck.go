package sources

// KeyChecker is implemented by a source that can tell, at load time,
// whether a literal key is one it may be asked for: the http source looks
// up only URLs that its URL template can produce. The handler checks a
// source's default key with it.
type KeyChecker interface {
	// CheckKey returns why key can never be looked up, or nil. The error
	// names key as the source's logs show it (a URL without its user
	// info and query, where credentials ride), so that the caller never
	// has to print the key itself.
	CheckKey(key string) error
}
