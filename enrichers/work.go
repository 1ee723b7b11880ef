package enrichers

// countWork, when set (by tests only), is told how many entries a scan on
// the token path examined: the planned fields a name is looked up among,
// the member names compared for duplicates, the trace entries Explain
// searches. A test bounds the work of a response by it, in a measure that
// does not depend on the machine, and so proves that no step costs the
// product of two sizes a hostile body or source controls.
var countWork func(n int)

// work reports n entries examined to countWork.
func work(n int) {
	if countWork != nil {
		countWork(n)
	}
}
