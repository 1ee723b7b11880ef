package testenv

import "runtime"

// AllocDuring reports the bytes allocated process-wide, by every goroutine,
// while fn runs: a bound on what fn held at once. It collects garbage first
// so that a collection during fn does not hide what fn allocated.
func AllocDuring(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}
